"""Programme benchmark: `python -m bench.programme`.

Figures for `programme.generate-from-concept` on a 7-day project (one
structure call, then one LLM call per day, the days a fan-out), on the
official emulators and the local OpenAI-compatible server:

1. Wall time from `POST /v1/projects/{projectId}/programme` until
   `GET /v1/programmes/{id}` shows COMPLETED, with the server taking
   LLM_DELAY seconds per call, the days in parallel (MAX_PARALLEL_STEPS=8,
   the default) versus one after another (MAX_PARALLEL_STEPS=1). The api is
   driven in-process (functions-framework test client) and the worker
   in-process too: `services.engine.deliver(run_id)` on Services built from the
   environment with the wanted MAX_PARALLEL_STEPS (no Pub/Sub push hop).
   The project is created beforehand with a zero-latency server.
2. Firestore document reads and writes per programme, api (create) and
   worker (execution) apart, counted at the gRPC level, with a per-step
   breakdown (zero-latency server).

Prints figures only; it asserts nothing (exit status 1 if a programme did
not complete).
"""

from __future__ import annotations

import collections
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from bench.common import Bench, RpcRecord, bench_stack, show, table, totals
from devtools.samples import WIZARD_ANSWERS as SAMPLE_ANSWERS
from shared.engine import Engine
from shared.workflows.deps import WorkflowDeps

DAYS = 7
LLM_DELAY = 1.0  # seconds per chat completion, for the timed programmes
TIMED_RUNS = 3  # per mode
COUNT_RUNS = 3
PARALLEL = 8  # the default of shared/config.py
SEQUENTIAL = 1
GOAL_SPEEDUP = 3.0
LLM_TIMEOUT_SECONDS = 15.0  # bounds every LLM call (the default is 120 s)
RUN_BOUND_SECONDS = 120.0  # a programme taking longer than this is reported and stops the bench

SETUP = "setup (excluded)"
API = "api (create)"
WORKER = "worker (execution)"
POLL = "GET (excluded)"

WIZARD_ANSWERS: dict[str, Any] = {**SAMPLE_ANSWERS, "duration_days": DAYS}


@dataclass
class Programme:
    """One measured programme."""

    max_parallel: int
    version: int
    seconds: float
    worker_seconds: float
    llm_calls: int
    days: int
    api_records: list[RpcRecord] = field(default_factory=list)
    worker_records: list[RpcRecord] = field(default_factory=list)


class BenchFailure(Exception):
    """A programme did not complete as expected."""


# -- plumbing --------------------------------------------------------------------


def create_project(bench: Bench) -> str:
    """The idea wizard's flow, run to completion in-process; the project's id (not counted)."""
    with bench.counter.phase(SETUP):
        created = bench.post("/v1/project-sessions", WIZARD_ANSWERS)
        outcome = bench.services.engine.deliver(created["runId"])
        session = bench.get(f"/v1/project-sessions/{created['sessionId']}")
    if outcome.value != "COMPLETED" or session["status"] != "COMPLETED":
        raise BenchFailure(f"project session ended {outcome.value}/{session['status']}")
    project_id: str = session["projectId"]
    return project_id


def services_with(bench: Bench, max_parallel: int) -> Any:
    """Services built from the environment with MAX_PARALLEL_STEPS set, on the counting client."""
    from shared import services as services_module

    os.environ["MAX_PARALLEL_STEPS"] = str(max_parallel)
    services_module.from_environment.cache_clear()
    services = services_module.from_environment()
    if services.settings.max_parallel_steps != max_parallel:
        raise BenchFailure(f"MAX_PARALLEL_STEPS={max_parallel} was not picked up")
    # The same (counting) Firestore client as the api: no second channel.
    services.override(db=bench.services.db)
    deps = services.engine.deps
    assert isinstance(deps, WorkflowDeps)
    _ = deps.llm  # build the OpenAI client now, not inside a timed run
    return services


def run_programme(bench: Bench, engine: Engine, project_id: str, max_parallel: int) -> Programme:
    counter = bench.counter
    calls_before = len(bench.llm.requests)
    with counter.phase(API) as api_records:
        start = time.perf_counter()
        created = bench.post(f"/v1/projects/{project_id}/programme", {})
    with counter.phase(WORKER) as worker_records:
        worker_start = time.perf_counter()
        outcome = engine.deliver(created["runId"])
        worker_seconds = time.perf_counter() - worker_start
    with counter.phase(POLL):
        programme = bench.get(f"/v1/programmes/{created['programmeId']}")
        seconds = time.perf_counter() - start
    if outcome.value != "COMPLETED" or programme["status"] != "COMPLETED":
        raise BenchFailure(f"programme ended {outcome.value}/{programme['status']}")
    if len(programme["days"]) != DAYS:
        raise BenchFailure(f"expected {DAYS} days, found {len(programme['days'])}")
    if seconds > RUN_BOUND_SECONDS:
        raise BenchFailure(f"a programme took {seconds:.0f} s (bound {RUN_BOUND_SECONDS:.0f} s)")
    return Programme(
        max_parallel=max_parallel,
        version=int(created["version"]),
        seconds=seconds,
        worker_seconds=worker_seconds,
        llm_calls=len(bench.llm.requests) - calls_before,
        days=len(programme["days"]),
        api_records=api_records,
        worker_records=worker_records,
    )


def _span(values: list[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}-{high}"


# -- 1. wall time ----------------------------------------------------------------------


def wall_time(bench: Bench) -> list[Programme]:
    bench.llm.delay = 0.0
    project_id = create_project(bench)
    engines = {n: services_with(bench, n).engine for n in (PARALLEL, SEQUENTIAL)}
    bench.llm.delay = LLM_DELAY
    results: list[Programme] = []
    try:
        # Interleaved (8, 1, 8, 1, ...) so that drift hits both modes alike.
        for _ in range(TIMED_RUNS):
            for n in (PARALLEL, SEQUENTIAL):
                results.append(run_programme(bench, engines[n], project_id, n))
    finally:
        bench.llm.delay = 0.0

    structure_calls = 1
    rows: list[list[object]] = []
    medians: dict[int, float] = {}
    for n, label in ((PARALLEL, "days in parallel"), (SEQUENTIAL, "one after another")):
        mine = [r for r in results if r.max_parallel == n]
        seconds = [r.seconds for r in mine]
        medians[n] = statistics.median(seconds)
        # The structure call, then ceil(DAYS / n) rounds of day calls.
        bound = LLM_DELAY * (structure_calls + -(-DAYS // n))
        rows.append(
            [
                label,
                n,
                len(mine),
                f"{medians[n]:.2f}",
                ", ".join(f"{s:.2f}" for s in seconds),
                f"{statistics.median(r.worker_seconds for r in mine):.2f}",
                f"{bound:.0f}",
                _span([r.llm_calls for r in mine]),
            ]
        )
    show(
        table(
            f"1. Wall time of a {DAYS}-day programme, POST /v1/projects/{{id}}/programme -> "
            f"GET /v1/programmes/{{id}} COMPLETED (s); LLM server {LLM_DELAY:.1f} s per call; "
            "api in-process (test client), worker in-process (services.engine.deliver, no Pub/Sub "
            "hop); emulators",
            [
                "mode",
                "MAX_PARALLEL_STEPS",
                "N",
                "median (s)",
                "each run (s)",
                "runner.run median (s)",
                "lower bound (s)",
                "LLM calls/programme",
            ],
            rows,
        )
    )
    speedup = medians[SEQUENTIAL] / medians[PARALLEL]
    show(
        f"   speed-up (median sequential / median parallel): {speedup:.2f}x "
        f"(goal >= {GOAL_SPEEDUP:.0f}x: {'met' if speedup >= GOAL_SPEEDUP else 'NOT met'}); "
        f"LLM calls expected: 1 structure + {DAYS} days = {1 + DAYS}; "
        f"lower bound = LLM calls on the critical path x {LLM_DELAY:.1f} s"
    )
    show(
        f"   the same project throughout (programme versions "
        f"{min(r.version for r in results)}-{max(r.version for r in results)}), "
        f"created beforehand with a zero-latency server; runs interleaved "
        f"{PARALLEL},{SEQUENTIAL},{PARALLEL},..."
    )
    show()
    return results


# -- 2. Firestore operations -------------------------------------------------------------


def firestore_operations(bench: Bench, timed: list[Programme]) -> None:
    bench.llm.delay = 0.0
    engine = services_with(bench, PARALLEL).engine
    counted: list[Programme] = []
    for _ in range(COUNT_RUNS):
        project_id = create_project(bench)  # fresh: each programme is version 1
        counted.append(run_programme(bench, engine, project_id, PARALLEL))

    def row(label: str, runs: list[Programme], phase: str) -> list[object]:
        pairs = [totals(r.api_records if phase == API else r.worker_records) for r in runs]
        return [label, len(runs), _span([p[0] for p in pairs]), _span([p[1] for p in pairs])]

    both = [(r, totals(r.api_records), totals(r.worker_records)) for r in counted]
    rows: list[list[object]] = [
        row(f"{API}, first programme (v1)", counted, API),
        row(f"{WORKER}, MAX_PARALLEL_STEPS={PARALLEL}", counted, WORKER),
        [
            "total per programme",
            len(counted),
            _span([a[0] + w[0] for _, a, w in both]),
            _span([a[1] + w[1] for _, a, w in both]),
        ],
    ]
    for n in (PARALLEL, SEQUENTIAL):
        mine = [r for r in timed if r.max_parallel == n]
        rows.append(row(f"{WORKER}, MAX_PARALLEL_STEPS={n}, timed runs (section 1)", mine, WORKER))
    rows.append(row(f"{API}, regeneration (v2+, timed runs)", timed, API))
    show(
        table(
            f"2. Firestore documents per {DAYS}-day programme (counted at the gRPC level; "
            "project creation and the GET excluded; zero-latency LLM unless noted)",
            ["phase", "N (programmes)", "reads (docs)", "writes (docs)"],
            rows,
        )
    )
    show()
    per_step(counted[-1])


def per_step(programme: Programme) -> None:
    """Reads, writes and commits by step, for one programme, in order of first RPC."""
    groups: dict[str, list[RpcRecord]] = collections.defaultdict(list)
    for r in [*programme.api_records, *programme.worker_records]:
        step = r.step or ("- (create)" if r.phase == API else "- (claim, marks, finish)")
        groups[f"{r.phase}|{step}"].append(r)
    rows: list[list[object]] = []
    for key, records in groups.items():
        phase, step = key.split("|", 1)
        reads, writes = totals(records)
        commits = [r for r in records if r.method == "Commit"]
        targets = collections.Counter(t for r in commits for t in r.targets)
        rpcs = collections.Counter(r.method for r in records)
        rows.append(
            [
                phase,
                step,
                reads,
                writes,
                len(commits),
                ", ".join(f"{m} x{c}" for m, c in rpcs.items()),
                ", ".join(f"{t} x{c}" for t, c in targets.items()) or "-",
            ]
        )
    reads, writes = totals([*programme.api_records, *programme.worker_records])
    rows.append(["total", "", reads, writes, "", "", ""])
    show(
        table(
            f"   per step (the last counted programme, MAX_PARALLEL_STEPS={PARALLEL}; "
            "rows in order of first RPC; documents written listed by path)",
            ["phase", "step", "reads", "writes", "commits", "RPCs", "documents written"],
            rows,
        )
    )
    show()


# -- main ---------------------------------------------------------------------------------


def main() -> int:
    show(
        f"genjobs programme benchmark (python {sys.version.split()[0]}, {DAYS}-day project, "
        f"LLM delay {LLM_DELAY:.1f} s for timing)"
    )
    show()
    started = time.monotonic()
    extra_env = {
        "MAX_PARALLEL_STEPS": str(PARALLEL),
        "OPENAI_TIMEOUT_SECONDS": str(LLM_TIMEOUT_SECONDS),
    }
    try:
        with bench_stack(extra_env) as bench:
            timed = wall_time(bench)
            firestore_operations(bench, timed)
    except KeyboardInterrupt:
        show("interrupted; everything started was stopped")
        return 130
    except BenchFailure as failure:
        show(f"benchmark stopped: {failure}")
        return 1
    show(f"(total benchmark time {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
