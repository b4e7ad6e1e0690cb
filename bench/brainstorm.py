"""Brainstorm benchmark: `python -m bench.brainstorm` (what `make bench` runs).

Figures for a brainstorm run of SEEDS seeds, with a zero-latency LLM on the
official emulators:

1. Firestore document reads and writes per completed run, api (create) and
   worker (execution) apart, polling excluded: counted at the gRPC level.
   The api is driven in-process (functions-framework test client) and the
   worker through `services.engine.deliver(run_id)`, both on the counting client.
2. Worker invocations per run when nothing fails, via real push delivery to
   a worker process: the run's `deliveries` field and the push requests the
   worker logged for it.
3. Wall time from POST to COMPLETED over real push delivery, polling the GET
   every POLL_SECONDS.
4. Import time (cold start) of each function's `main` module.

Prints figures only; it asserts nothing.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import time

from bench.common import (
    Bench,
    RpcRecord,
    bench_stack,
    show,
    summarize,
    table,
    totals,
)
from devtools import REPO_ROOT

SEEDS = 10
COUNT_RUNS = 3
LATENCY_RUNS = 20
POLL_SECONDS = 0.02
RUN_TIMEOUT_SECONDS = 60.0
IMPORT_SAMPLES = 7
API = "api (create)"
WORKER = "worker (execution)"
POLL = "poll (excluded)"


# -- 1. Firestore operations -----------------------------------------------------


def firestore_operations(bench: Bench) -> None:
    counter = bench.counter
    per_run: list[dict[str, tuple[int, int]]] = []
    last_run: list[RpcRecord] = []
    for _ in range(COUNT_RUNS):
        with counter.phase(API) as api_records:
            created = bench.create_brainstorm(SEEDS)
        with counter.phase(WORKER) as worker_records:
            outcome = bench.services.engine.deliver(created["runId"])
        with counter.phase(POLL):
            session = bench.get_session(created["sessionId"])
        if outcome.value != "COMPLETED" or session["status"] != "COMPLETED":
            raise RuntimeError(f"in-process run ended {outcome.value}/{session['status']}")
        if len(session["seeds"]) != SEEDS:
            raise RuntimeError(f"expected {SEEDS} seeds, found {len(session['seeds'])}")
        per_run.append({API: totals(api_records), WORKER: totals(worker_records)})
        last_run = [*api_records, *worker_records]

    same = all(run == per_run[0] for run in per_run)
    rows: list[list[object]] = []
    for phase in (API, WORKER):
        reads = [run[phase][0] for run in per_run]
        writes = [run[phase][1] for run in per_run]
        rows.append([phase, _span(reads), _span(writes)])
    total_reads = [sum(run[p][0] for p in (API, WORKER)) for run in per_run]
    total_writes = [sum(run[p][1] for p in (API, WORKER)) for run in per_run]
    rows.append(["total per run", _span(total_reads), _span(total_writes)])
    # The engine's own cost, then what each later feature adds per run when
    # nothing is limited: the tenant slot (take + free, the slot and line
    # queries), usage (the day's run counter at create, tokens with the LLM
    # step), the results outbox (reload, then clear the flag).
    rows.append(["engine core", "<= 3", f"<= {SEEDS + 5} (seedCount + 5)"])
    rows.append(["+ slot, usage, outbox", "+2, +0, +1", "+2, +2, +1"])
    show(
        table(
            f"1. Firestore documents per completed run (seedCount={SEEDS}, N={COUNT_RUNS} runs, "
            "counted at the gRPC level; polling excluded)",
            ["phase", "reads (docs)", "writes (docs)"],
            rows,
        )
    )
    if not same:
        show("   (the runs differ: figures show min-max)")
    show()
    detail = [
        [r.phase, r.step or "-", r.method, r.reads, r.writes]
        for r in last_run
        if r.reads or r.writes or r.method in ("Commit", "RunQuery", "BatchGetDocuments")
    ]
    show(
        table(
            "   which RPCs cost what (last run; step = the engine's step context, "
            "'-' = outside a step: create, claim/load)",
            ["phase", "step", "RPC", "reads", "writes"],
            detail,
        )
    )
    show()


def _span(values: list[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}-{high}"


# -- 2 and 3. push delivery: invocations and latency ----------------------------------


def push_delivery(bench: Bench) -> None:
    worker = bench.start_worker("push")
    bench.push_to(worker)

    # One warm-up run (the worker's first delivery opens its channels and the
    # OpenAI client), reported apart.
    _, warm_seconds, warm_status = _timed_run(bench)
    results: list[tuple[str, float, str, int]] = []
    for _ in range(LATENCY_RUNS):
        run_id, seconds, status = _timed_run(bench)
        results.append((run_id, seconds, status, 0))
    # A redelivery or a late log line would land now, not after this pause.
    time.sleep(2.0)

    completed = [r for r in results if r[2] == "COMPLETED"]
    deliveries = [int(bench.run_doc(r[0]).get("deliveries") or 0) for r in results]
    requests = [worker.deliveries_of(r[0]) for r in results]
    outcomes = collections.Counter(o for per_run in requests for o in per_run)

    rows: list[list[object]] = [
        ["run document `deliveries` field", *_dist(deliveries)],
        ["push requests logged by the worker", *_dist([len(r) for r in requests])],
    ]
    show(
        table(
            f"2. Worker invocations per run, nothing failing (real push delivery, "
            f"N={len(results)} runs; goal 1)",
            ["measure", "min", "median", "max"],
            rows,
        )
    )
    show(f"   outcomes of those push requests: {dict(outcomes)}")
    show()

    millis = [r[1] * 1000 for r in completed]
    if millis:
        s = summarize(millis)
        show(
            table(
                f"3. Wall time POST -> COMPLETED (ms), seedCount={SEEDS}, zero-latency LLM, "
                f"emulators, real push delivery to a worker process, api in-process "
                f"(functions-framework test client), GET polled every "
                f"{POLL_SECONDS * 1000:.0f} ms",
                ["N", "median", "p90", "min", "max"],
                [[s.n, f"{s.median:.0f}", f"{s.p90:.0f}", f"{s.minimum:.0f}", f"{s.maximum:.0f}"]],
            )
        )
    failed = [r for r in results if r[2] != "COMPLETED"]
    show(
        f"   warm-up run (excluded): {warm_seconds * 1000:.0f} ms ({warm_status}); "
        f"runs not COMPLETED within {RUN_TIMEOUT_SECONDS:.0f} s: {len(failed)}"
    )
    show()


def _timed_run(bench: Bench) -> tuple[str, float, str]:
    with bench.counter.phase(API):
        start = time.perf_counter()
        created = bench.create_brainstorm(SEEDS)
    status = "IN_PROGRESS"
    with bench.counter.phase(POLL):
        while time.perf_counter() - start < RUN_TIMEOUT_SECONDS:
            status = bench.get_session(created["sessionId"])["status"]
            if status != "IN_PROGRESS":
                break
            time.sleep(POLL_SECONDS)
    elapsed = time.perf_counter() - start
    return created["runId"], elapsed, status


def _dist(values: list[int]) -> list[object]:
    s = summarize([float(v) for v in values])
    return [int(s.minimum), f"{s.median:g}", int(s.maximum)]


# -- 4. import time ------------------------------------------------------------

_IMPORT_PROBE = (
    "import time\n"
    "start = time.perf_counter()\n"
    "import main\n"
    "print(repr(time.perf_counter() - start))\n"
)


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env


def import_seconds(function: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE],
        cwd=REPO_ROOT / "functions" / function,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def heaviest_imports(function: str, top: int = 4) -> list[tuple[str, str, float]]:
    """Where `main` and our `shared` package pull in other packages, by cumulative time.

    From one `-X importtime` sample: (package, importer, seconds). A module's
    cost is paid by its first importer, so this is the cost in import order.
    """
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import main"],
        cwd=REPO_ROOT / "functions" / function,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    # "import time: self [us] | cumulative | imported package", nested by indent,
    # children printed before their parent.
    lines: list[tuple[int, str, float]] = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if not line.startswith("import time:") or len(parts) != 3:
            continue
        try:
            cumulative = int(parts[1].strip()) / 1_000_000
        except ValueError:
            continue
        name = parts[2].rstrip()
        lines.append((len(name) - len(name.lstrip()), name.strip(), cumulative))
    ours = ("main", "shared")
    found: list[tuple[str, str, float]] = []
    for index, (indent, name, cumulative) in enumerate(lines):
        if name.split(".")[0] in ours:
            continue
        parent = next((n for i, n, _ in lines[index + 1 :] if i < indent), "")
        if parent.split(".")[0] in ours:
            found.append((name, parent, cumulative))
    return sorted(found, key=lambda item: -item[2])[:top]


def import_times() -> None:
    rows: list[list[object]] = []
    heavy: dict[str, list[tuple[str, str, float]]] = {}
    for function in ("api", "worker"):
        samples = [import_seconds(function) * 1000 for _ in range(IMPORT_SAMPLES)]
        s = summarize(samples)
        rows.append([function, s.n, f"{s.median:.0f}", f"{s.minimum:.0f}", f"{s.maximum:.0f}"])
        heavy[function] = heaviest_imports(function)
    show(
        table(
            "4. Import time of `import main` (ms), fresh interpreter per sample, "
            "cwd functions/<name>, PYTHONPATH=repo root",
            ["function", "N", "median", "min", "max"],
            rows,
        )
    )
    for function, items in heavy.items():
        listed = ", ".join(f"{name} {sec * 1000:.0f} ms (by {by})" for name, by, sec in items)
        show(f"   {function}: heaviest packages our code imports (one sample): {listed}")
    show()


# -- main ------------------------------------------------------------------------


def main() -> int:
    show(f"genjobs brainstorm benchmark (python {sys.version.split()[0]}, seedCount={SEEDS})")
    show()
    started = time.monotonic()
    try:
        with bench_stack() as bench:
            firestore_operations(bench)
            push_delivery(bench)
        import_times()
    except KeyboardInterrupt:
        show("interrupted; everything started was stopped")
        return 130
    show(f"(total benchmark time {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
