"""Runs per worker instance: `python -m bench.concurrency`.

Cloud Run sends one instance up to `max_instance_request_concurrency` push
requests at once, and functions-framework's gunicorn serves THREADS of them in
one process. This starts the worker that way (functions-framework's app
factory and gunicorn application, through `devtools.function_server` as
`make dev` does; THREADS = the Terraform default of `worker_concurrency`,
read from infra/variables.tf; WORKERS unset, i.e. 1), creates N brainstorm
runs through the api, then starts the local stack's push (`devtools.push`,
as `make dev` runs it), which finds the N run events waiting and posts them
to the worker at once, as Pub/Sub push would (the emulator's own push sends
one at a time), with a model that answers after LLM_DELAY seconds.

Figures: wall time from the push's start until every push was answered
(each answer comes when its run has finished) against the ideal of one
model latency, runs COMPLETED, the worker's CPU time for the burst (what the
wall time needs beyond the model latency on a dedicated vCPU; on a shared,
loaded machine the wall time grows with the load average, printed too), the
worker's peak RSS and its RSS per in-flight run, and Firestore reads and
writes per run (counted at the gRPC level on a second, in-process pass of the
same runner with the same model). All runs belong to one tenant, so its
concurrency limit is lifted for the benchmark.

Prints figures only; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import hcl2
from hcl2 import SerializationOptions

from bench.common import (
    Bench,
    bench_stack,
    serving_pid,
    show,
    status_kib,
    summarize,
    table,
    totals,
)
from devtools import REPO_ROOT
from devtools.provision import provision
from devtools.push import LocalPush
from devtools.worker_process import WorkerProcess

RUNS = 64
LLM_DELAY = 5.0
SEEDS = 5
COUNTED_RUNS = 8
GOAL_FACTOR = 1.5
GOAL_RSS_MIB = 512
VARIABLES_TF = REPO_ROOT / "infra" / "variables.tf"


def terraform_threads(variables_tf: Path = VARIABLES_TF) -> int:
    """The default of `worker_concurrency`, which Terraform also passes as THREADS."""
    options = SerializationOptions(
        strip_string_quotes=True, explicit_blocks=False, with_comments=False
    )
    parsed = hcl2.loads(variables_tf.read_text(encoding="utf-8"), serialization_options=options)
    for block in parsed.get("variable", []):
        if "worker_concurrency" in block:
            return int(block["worker_concurrency"]["default"])
    raise RuntimeError(f"no variable worker_concurrency in {variables_tf}")


# -- the worker process ------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- pushing -----------------------------------------------------------------------


def push_all(bench: Bench, worker: WorkerProcess, routes: dict[str, str], count: int) -> LocalPush:
    """Start the local push on run events already published; return it once `count` answered."""
    pusher = LocalPush(bench.settings.project, routes, worker.url).start()
    deadline = time.monotonic() + 300
    while len(pusher.deliveries()) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    pusher.stop()
    pusher.join()  # the next measurement's runs must not go to this one's hanging pulls
    return pusher


def create_runs(bench: Bench, count: int) -> list[str]:
    return [bench.create_brainstorm(SEEDS)["runId"] for _ in range(count)]


# -- the measurements ----------------------------------------------------------------


def concurrent_push(bench: Bench, runs: int, threads: int) -> None:
    env = {**bench.worker_env(), "THREADS": str(threads), "LOG_LEVEL": "WARNING"}
    env.pop("WORKERS", None)  # functions-framework's default, 1, as on Cloud Run
    worker = WorkerProcess(bench.workdir, env, "concurrency")
    bench.workers.append(worker)
    worker.start()
    pid = serving_pid(worker)
    rss_started = status_kib(pid, "VmRSS")

    s = bench.settings
    routes = provision(s.project, s.events_topic, s.dead_letter_topic)
    # One run first: the worker's first delivery imports openai and opens its
    # channels; that is the instance's start, not a cost per run.
    create_runs(bench, 1)
    push_all(bench, worker, routes, 1)
    rss_warm = status_kib(pid, "VmRSS")

    run_ids = create_runs(bench, runs)
    cpu_before = cpu_seconds(pid)
    start = time.monotonic()
    pusher = push_all(bench, worker, routes, runs)
    answers = [(d.status or 0, d.ended - d.started) for d in pusher.deliveries()]
    wall = max(d.ended for d in pusher.deliveries()) - start
    cpu = cpu_seconds(pid) - cpu_before
    peak = status_kib(pid, "VmHWM")
    master_peak = status_kib(worker.process.pid, "VmHWM") if worker.process else 0

    statuses = [str(bench.run_doc(r).get("status")) for r in run_ids]
    completed = statuses.count("COMPLETED")
    latency = summarize([seconds for _, seconds in answers])
    http = sorted({status for status, _ in answers})
    ideal = bench.llm.delay
    per_run_kib = max(0, peak - rss_warm) / runs
    goal = ideal * GOAL_FACTOR
    rows: list[list[object]] = [
        ["runs COMPLETED", f"{completed}/{runs}", f"{runs}/{runs}"],
        ["wall time, push start -> last answer (s)", f"{wall:.2f}", f"<= {goal:.1f}"],
        ["  vs the ideal (one model latency)", f"{wall / ideal:.2f}x", f"<= {GOAL_FACTOR}x"],
        ["push answer time median / max (s)", f"{latency.median:.2f} / {latency.maximum:.2f}", ""],
        ["worker CPU time for the burst (s)", f"{cpu:.2f}", ""],
        ["machine load average (1 min) after", f"{os.getloadavg()[0]:.1f}", ""],
        ["worker RSS after start (MiB)", f"{rss_started / 1024:.0f}", ""],
        ["worker RSS after one run (MiB)", f"{rss_warm / 1024:.0f}", ""],
        ["worker peak RSS (MiB)", f"{peak / 1024:.0f}", f"< {GOAL_RSS_MIB}"],
        ["  per in-flight run (MiB)", f"{per_run_kib / 1024:.2f}", ""],
        ["gunicorn master peak RSS (MiB)", f"{master_peak / 1024:.0f}", ""],
    ]
    show(
        table(
            f"1. {runs} run events pushed at once (devtools.push) to one worker process "
            f"(functions-framework gunicorn, THREADS={threads}, WORKERS=1), "
            f"model latency {ideal:g} s, brainstorm seedCount={SEEDS}, emulators",
            ["figure", "value", "goal"],
            rows,
        )
    )
    show(f"   push HTTP statuses: {http}; run statuses: {sorted(set(statuses))}")
    errors = [e for e in worker.log_entries() if e.get("severity") in ("ERROR", "WARNING")]
    for entry in errors[:10]:
        show(f"   worker log: {entry}")
    show()


def writes_per_run(bench: Bench, count: int) -> None:
    """Reads and writes per run when `count` runs execute at once in one process."""
    run_ids = create_runs(bench, count)
    with bench.counter.phase("worker") as records, ThreadPoolExecutor(count) as pool:
        outcomes = list(pool.map(lambda r: bench.services.engine.deliver(r).value, run_ids))
    reads, writes = totals(records)
    show(
        table(
            f"2. Firestore documents per run, {count} runs at once in one process "
            f"(the same runner, counted at the gRPC level), model latency {bench.llm.delay:g} s",
            ["figure", "value"],
            [
                ["reads per run", f"{reads / count:g}"],
                ["writes per run", f"{writes / count:g}"],
                ["outcomes", ", ".join(sorted(set(outcomes)))],
            ],
        )
    )
    show()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.concurrency", description=__doc__)
    parser.add_argument("--runs", type=int, default=RUNS, help=f"run events at once ({RUNS})")
    parser.add_argument("--delay", type=float, default=LLM_DELAY, help="model latency, seconds")
    parser.add_argument(
        "--threads", type=int, help="THREADS (default: Terraform's worker_concurrency)"
    )
    args = parser.parse_args(argv)
    threads = args.threads if args.threads is not None else terraform_threads()
    # All runs belong to one tenant: its limit must not be what is measured
    # here (the tenant limit has its own benchmark).
    with bench_stack({"TENANT_MAX_ACTIVE_RUNS": str(max(args.runs, COUNTED_RUNS) + 1)}) as bench:
        bench.llm.delay = args.delay
        concurrent_push(bench, args.runs, threads)
        writes_per_run(bench, COUNTED_RUNS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
