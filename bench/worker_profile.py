"""Where a worker's CPU goes per run: `python -m bench.worker_profile`.

Creates RUNS brainstorm runs (zero-latency model, emulators), then delivers
each run event to the worker's real entry point in this process, as a push
posts it (functions-framework's Flask app, the wrapped push envelope of
`devtools.provision.push_envelope`), under cProfile. Prints the CPU time
per run, the share of each library (by the file of the function where the
time is spent), and the functions with the most time of their own.

Runs one after another, so the profile shows the work of a run, not lock
waits. Prints figures only; it asserts nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import time
from collections import defaultdict

import functions_framework

from bench.common import bench_stack, show, table
from devtools import REPO_ROOT
from devtools.provision import push_envelope

RUNS = 100
SEEDS = 5
TOP = 25
# Where a function's file lives -> the part of the stack it belongs to.
_PARTS = (
    ("/shared/engine/", "engine (shared/engine)"),
    ("/shared/workflows/", "workflows"),
    ("/shared/llm/", "llm code (shared/llm)"),
    ("/shared/adapters/", "adapters (shared/adapters)"),
    ("/shared/", "rest of shared/"),
    ("/google/cloud/firestore", "Firestore client"),
    ("/google/cloud/pubsub", "Pub/Sub client"),
    ("/google/api_core/", "google api_core"),
    ("/google/protobuf/", "protobuf"),
    ("/proto/", "proto-plus"),
    ("/grpc/", "grpc"),
    ("/openai/", "openai client"),
    ("/httpx/", "httpx"),
    ("/httpcore/", "httpcore"),
    ("/pydantic", "pydantic"),
    ("/functions_framework/", "functions-framework"),
    ("/flask/", "flask"),
    ("/werkzeug/", "werkzeug"),
    ("/cloudevents/", "cloudevents"),
    ("/logging/", "logging"),
    ("/json/", "json"),
    ("/threading.py", "threading"),
    ("/concurrent/", "concurrent.futures"),
)


def _part(filename: str) -> str:
    for needle, name in _PARTS:
        if needle in filename:
            return name
    return "other" if filename.startswith("/") else f"built-in ({filename or '?'})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.worker_profile", description=__doc__)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--dump", help="also write the raw profile here (pstats format)")
    parser.add_argument(
        "--plain",
        action="store_true",
        help="no profiler: only the worker's CPU and wall time per run, as it runs unobserved",
    )
    args = parser.parse_args(argv)
    with bench_stack({"LOG_LEVEL": "INFO"}) as bench:
        s = bench.settings
        worker = functions_framework.create_app(  # type: ignore[no-untyped-call]
            "worker", str(REPO_ROOT / "functions/worker/main.py")
        ).test_client()
        path = f"/projects/{s.project}/topics/{s.events_topic}"

        def deliver(run_id: str) -> int:
            data = json.dumps({"type": "run", "runId": run_id}).encode()
            envelope = push_envelope(s.project, data, {"type": "run", "runId": run_id}, run_id)
            return int(worker.post(path, json=envelope).status_code)

        for _ in range(3):  # warm: imports, channels, the OpenAI client
            deliver(bench.create_brainstorm(SEEDS)["runId"])
        run_ids = [bench.create_brainstorm(SEEDS)["runId"] for _ in range(args.runs)]
        profile = cProfile.Profile(time.process_time)
        cpu = time.process_time()
        wall = time.perf_counter()
        if not args.plain:
            profile.enable()
        statuses = [deliver(run_id) for run_id in run_ids]
        profile.disable()
        cpu = time.process_time() - cpu
        wall = time.perf_counter() - wall
        completed = sum(bench.run_doc(r).get("status") == "COMPLETED" for r in run_ids)

    if args.plain:
        completed_runs = len(run_ids)
        show(
            f"{completed_runs} runs delivered one after another to the worker's entry point in "
            f"process (brainstorm seedCount={SEEDS}, zero-latency model, emulators): {completed} "
            f"COMPLETED, HTTP {sorted(set(statuses))}; CPU {cpu * 1000 / completed_runs:.1f} ms "
            f"per run, wall {wall * 1000 / completed_runs:.1f} ms (no profiler; load average "
            f"{os.getloadavg()[0]:.1f})"
        )
        return 0
    stats = pstats.Stats(profile)
    if args.dump:
        stats.dump_stats(args.dump)
    by_part: dict[str, float] = defaultdict(float)
    own: list[tuple[float, float, str]] = []
    for (filename, line, name), (_, _, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_part[_part(filename)] += tottime
        short = filename.split("site-packages/")[-1].split(str(REPO_ROOT) + "/")[-1]
        own.append((tottime, cumtime, f"{short}:{line} {name}"))
    runs = len(run_ids)
    show(
        f"{runs} runs delivered one after another to the worker's entry point in process "
        f"(brainstorm seedCount={SEEDS}, zero-latency model, emulators): {completed} COMPLETED, "
        f"HTTP {sorted(set(statuses))}; CPU {cpu * 1000 / runs:.1f} ms per run "
        f"(wall {wall * 1000 / runs:.1f} ms; profiling adds to both)"
    )
    show()
    total = sum(by_part.values())
    rows = [
        [part, f"{seconds * 1000 / runs:.2f}", f"{100 * seconds / total:.0f}%"]
        for part, seconds in sorted(by_part.items(), key=lambda item: -item[1])
        if seconds * 1000 / runs >= 0.05
    ]
    show(table("CPU per run by where it is spent (own time)", ["part", "ms", "share"], rows))
    show()
    own.sort(reverse=True)
    show(
        table(
            f"The {TOP} functions with the most own time",
            ["function", "own ms/run", "cumulative ms/run"],
            [
                [where, f"{t * 1000 / runs:.2f}", f"{c * 1000 / runs:.2f}"]
                for t, c, where in own[:TOP]
            ],
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
