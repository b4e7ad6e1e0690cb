"""Waits benchmark: `python -m bench.waits`.

Programmes created with `review: true` on the official emulators and the
local OpenAI-compatible server, REVIEW_TIMEOUT_SECONDS=60, the sweep ticking
every SWEEP_SECONDS (in process: `Engine.sweep`, what the worker does with a
tick). The api and the runner are in process (functions-framework test
client, `Engine.deliver`), so every Firestore RPC is counted at the gRPC
level. Prints:

1. Firestore writes to the waiting runs (and every write by kind) while
   they wait, through every sweep tick before their timeout: a parked run
   should cost none.
2. How late each timed-out review was failed: `finishedAt - wait.timeoutAt`,
   against the tick (a wait ends at the first tick after its timeout).
3. A signal's cost: the approve request's wall time and its Firestore
   reads and writes.

Prints figures only; it asserts nothing (exit status 1 if a run did not do
what it should).
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import Bench, bench_stack, show, table, totals
from devtools.samples import WIZARD_ANSWERS

SWEEP_SECONDS = 5.0
REVIEW_TIMEOUT_SECONDS = 60
WAITING = 3  # programmes left to time out
APPROVED = 5  # programmes approved (signal cost)
BOUND_SECONDS = REVIEW_TIMEOUT_SECONDS + 4 * SWEEP_SECONDS


class BenchFailure(Exception):
    """A run did not do what the benchmark expects."""


def _project(bench: Bench) -> str:
    created = bench.post("/v1/project-sessions", {**WIZARD_ANSWERS, "duration_days": 5})
    bench.services.engine.deliver(created["runId"])
    project_id: str = bench.get(f"/v1/project-sessions/{created['sessionId']}")["projectId"]
    return project_id


def _awaiting(bench: Bench, project_id: str) -> dict[str, Any]:
    """A programme with review, delivered until it waits (the next version of the project)."""
    created = bench.post(f"/v1/projects/{project_id}/programme", {"review": True})
    outcome = bench.services.engine.deliver(created["runId"]).value
    if outcome != "WAITING":
        raise BenchFailure(f"programme run ended {outcome}, not WAITING")
    return created


def _sweep(bench: Bench) -> None:
    bench.services.engine.sweep()


def timeouts(bench: Bench) -> tuple[int, list[tuple[str, int]], list[float]]:
    """(run writes while waiting, writes by target while waiting, lateness of each timeout)."""
    # One project per programme: a project has one programme generating at a time.
    runs = [_awaiting(bench, _project(bench)) for _ in range(WAITING)]
    timeout_at = {r["runId"]: bench.run_doc(r["runId"])["wait"]["timeoutAt"] for r in runs}
    first = min(timeout_at.values())
    ticks = 0
    with bench.counter.phase("waiting") as waiting:
        # Every tick before the first timeout (none of them may end a wait).
        last_tick = first - timedelta(seconds=1)
        while (left := (last_tick - datetime.now(UTC)).total_seconds()) > 0:
            time.sleep(min(SWEEP_SECONDS, left))
            _sweep(bench)
            ticks += 1
    started = time.monotonic()
    late: list[float] = []
    pending = set(timeout_at)
    while pending and time.monotonic() - started < BOUND_SECONDS:
        time.sleep(SWEEP_SECONDS)
        _sweep(bench)
        for run_id in list(pending):
            doc = bench.run_doc(run_id)
            if doc.get("status") == "FAILED":
                late.append((doc["finishedAt"] - timeout_at[run_id]).total_seconds())
                pending.discard(run_id)
    if pending:
        raise BenchFailure(f"{len(pending)} waiting runs were not failed after their timeout")
    by_target: dict[str, int] = {}
    for record in waiting:
        for target in record.targets:
            by_target[target] = by_target.get(target, 0) + 1
    run_writes = by_target.get("runs/*", 0)
    show(f"{ticks} sweep ticks while the runs waited")
    return run_writes, sorted(by_target.items()), late


def signal_cost(bench: Bench) -> list[tuple[float, int, int]]:
    """(seconds, reads, writes) of each approve request."""
    costs = []
    for _ in range(APPROVED):
        created = _awaiting(bench, _project(bench))
        with bench.counter.phase("signal") as records:
            start = time.perf_counter()
            answer = bench.post(
                f"/v1/runs/{created['runId']}/signals/review", {"decision": "approve"}
            )
            seconds = time.perf_counter() - start
        if answer["status"] != "QUEUED":
            raise BenchFailure(f"approve answered {answer}")
        reads, writes = totals(records)
        costs.append((seconds, reads, writes))
    return costs


def main() -> int:
    env = {"REVIEW_TIMEOUT_SECONDS": str(REVIEW_TIMEOUT_SECONDS)}
    with bench_stack(env) as bench:
        try:
            run_writes, by_target, late = timeouts(bench)
            costs = signal_cost(bench)
        except BenchFailure as failure:
            print(f"bench failed: {failure}", file=sys.stderr)
            return 1
    show(f"{WAITING} programmes waiting, REVIEW_TIMEOUT_SECONDS={REVIEW_TIMEOUT_SECONDS}")
    show(f"sweep tick every {SWEEP_SECONDS:g} s (in process)")
    show()
    show(
        table(
            "1. Firestore writes while waiting, every tick before the timeout",
            ["written", "writes"],
            [
                ("runs/* (the waiting runs)", run_writes),
                *(t for t in by_target if t[0] != "runs/*"),
            ],
        )
    )
    show()
    show(
        table(
            "2. a timed-out review failed after its timeoutAt (s)",
            ["runs", "min", "mean", "max", "tick"],
            [
                (
                    len(late),
                    f"{min(late):.1f}",
                    f"{statistics.mean(late):.1f}",
                    f"{max(late):.1f}",
                    f"{SWEEP_SECONDS:g}",
                )
            ],
        )
    )
    show()
    seconds = [c[0] * 1000 for c in costs]
    show(
        table(
            "3. POST /v1/runs/{runId}/signals/review (approve)",
            ["signals", "median ms", "max ms", "reads", "writes"],
            [
                (
                    len(costs),
                    f"{statistics.median(seconds):.0f}",
                    f"{max(seconds):.0f}",
                    "/".join(sorted({str(c[1]) for c in costs})),
                    "/".join(sorted({str(c[2]) for c in costs})),
                )
            ],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
