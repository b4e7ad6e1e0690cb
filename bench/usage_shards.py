"""Usage shards: `python -m bench.usage_shards`.

100 runs of one tenant commit at once, as a burst of creates does: each
commit is the run, its session and the increment of the tenant's usage
document of the day (the engine's creation commit, through the real
Firestore run store). Measured with the usage document in one piece
(`USAGE_SHARDS = 1`, as before) and spread over the shards:

- wall time of the burst and each commit's latency (median, p90, max);
- commits that failed (the emulator aborts a commit that waited too long for
  a document's lock: "Transaction lock timeout");
- the most writes any one usage document took, and the writes per second
  that means for it during the burst (Firestore sustains about one write a
  second per document; above that, Cloud Firestore answers with contention
  and latency that the emulator does not model, so the per-document rate is
  the figure that carries over).

Then the same for the commits of 100 runs' model steps (the token
increments). Prints figures only; it asserts nothing.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import BaseModel

from bench.common import TENANT, USER, Bench, bench_stack, show, summarize, table
from shared.engine import (
    EngineSettings,
    RunPatch,
    RunRecord,
    RunStatus,
    StepRecord,
    StepStatus,
    TokenUsage,
    Write,
    registry,
)
from shared.engine import ledger as ledger_module
from shared.engine.ledger import UsageLedger, run_counted
from shared.engine.lifecycle import new_run

RUNS = 100
ROUNDS = 3


class _Input(BaseModel):
    session_id: str


Burst = tuple[float, list[float], int]


def _burst(work: Callable[[int], None]) -> Burst:
    """Run `work(i)` for every run at once (threads released together).

    (wall time, each commit's latency, how many commits failed).
    """
    gate = threading.Barrier(RUNS + 1)
    latencies = [0.0] * RUNS
    failed: list[BaseException] = []

    def one(i: int) -> None:
        gate.wait()
        started = time.perf_counter()
        try:
            work(i)
        except Exception as error:  # Firestore's "Transaction lock timeout", typically
            failed.append(error)
        latencies[i] = time.perf_counter() - started

    threads = [threading.Thread(target=one, args=(i,)) for i in range(RUNS)]
    for thread in threads:
        thread.start()
    gate.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies, len(failed)


def _runs(now: datetime) -> list[RunRecord]:
    import shared.workflows  # noqa: F401 - registers the workflows

    workflow = registry.get("brainstorm.generate-seeds")
    assert workflow is not None
    return [
        new_run(
            workflow,
            _Input(session_id=uuid.uuid4().hex),
            run_id=uuid.uuid4().hex,
            tenant_id=TENANT,
            user_id=USER,
            subject=f"brainstormSessions/{uuid.uuid4().hex}",
            now=now,
            settings=EngineSettings(),
        )
        for _ in range(RUNS)
    ]


def _usage_writes(paths: list[str]) -> int:
    return max(Counter(p for p in paths if p.startswith("usage/")).values())


def creates(bench: Bench, now: datetime) -> tuple[Burst, int]:
    store = bench.services.store.inner
    runs = _runs(now)
    written: list[str] = []

    def create(i: int) -> None:
        run = runs[i]
        usage = run_counted(run)
        written.append(usage.path)
        session = Write(path=run.subject, data={"tenantId": TENANT}, mode="create")
        store.create(run, [session, usage])

    return _burst(create), _usage_writes(written)


def step_commits(bench: Bench, now: datetime) -> tuple[Burst, int]:
    """Each run's model step commits its checkpoint with its tokens, all at once."""
    store = bench.services.store.inner
    runs = _runs(now)
    for run in runs:
        store.create(run, [])
    loaded = [store.load(run.run_id) for run in runs]
    ledger = UsageLedger(lambda usage: 0.0)
    written: list[str] = []

    def commit(i: int) -> None:
        current = loaded[i]
        assert current is not None
        record = StepRecord(
            status=StepStatus.COMPLETED,
            attempts=1,
            usage=TokenUsage(prompt_tokens=10, completion_tokens=20, total_tokens=30, calls=1),
        )
        patch = RunPatch(fields={"status": RunStatus.RUNNING}, steps={"generate-seeds": record})
        charges = ledger.charge(current.record, patch, now)
        written.extend(w.path for w in charges)
        store.update(current.record.run_id, current.version, patch, charges)

    return _burst(commit), _usage_writes(written)


def main() -> None:
    show(f"{RUNS} runs of one tenant committing at once, {ROUNDS} rounds each (emulator)")
    rows: list[list[object]] = []
    with bench_stack() as bench:
        bench.services.override(db=bench.plain_db)
        for kind, measure in (("creation", creates), ("model step", step_commits)):
            for shards in (1, ledger_module.USAGE_SHARDS):
                ledger_module.USAGE_SHARDS, saved = shards, ledger_module.USAGE_SHARDS
                try:
                    walls: list[float] = []
                    latencies: list[float] = []
                    hottest = failures = 0
                    for _ in range(ROUNDS):
                        (wall, each, failed), most = measure(bench, datetime.now(UTC))
                        walls.append(wall)
                        latencies.extend(each)
                        hottest = max(hottest, most)
                        failures += failed
                finally:
                    ledger_module.USAGE_SHARDS = saved
                stats = summarize(latencies)
                burst = summarize(walls)
                rows.append(
                    [
                        kind,
                        shards,
                        f"{burst.median * 1000:.0f}",
                        f"{stats.median * 1000:.0f}",
                        f"{stats.p90 * 1000:.0f}",
                        f"{stats.maximum * 1000:.0f}",
                        f"{failures}/{RUNS * ROUNDS}",
                        hottest,
                        f"{hottest / burst.median:.0f}",
                    ]
                )
    show(
        table(
            "commits of 100 runs at once",
            [
                "commit",
                "usage shards",
                "burst ms",
                "median ms",
                "p90 ms",
                "max ms",
                "failed",
                "writes on hottest usage doc",
                "its writes/s in the burst",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
