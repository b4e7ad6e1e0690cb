"""The watchdog: no run stays QUEUED, RUNNING or WAITING past its watchdog time unnoticed.

A WAITING run's watchdog is its wait's timeout: the sweep ends the wait
then, with its declared outcome (`waits.end_timed_out`), and never touches
it before.

Run every minute (Cloud Scheduler in production, `make dev` locally). A run
whose watchdog time passed is either past its deadline (failed, with the
reason) or has lost its runner (expired lease, lost publish, a retry Pub/Sub
never delivered): it is published again, and its watchdog pushed forward so
one stuck run is not re-published on every tick.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.engine.records import RunStatus
from shared.engine.settings import EngineSettings
from shared.engine.store import EventPublisher, LoadedRun, RunPatch, RunStore
from shared.engine.transitions import FailureReason, current_step, end_run, last_step_error
from shared.engine.waits import end_timed_out
from shared.errors import StaleRun

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    redriven: int
    failed: int
    skipped: int
    # Results whose publish was lost, published by this tick (`results.publish_pending`).
    results: int = 0
    # Waits whose time came and that continue (a sleep's end): queued and published.
    woken: int = 0


class SweepHeartbeat(Protocol):
    def swept(self, at: datetime, report: SweepReport) -> None:
        """Record that a sweep ran, so an operator can tell one that stopped ticking."""


def sweep(
    store: RunStore,
    publisher: EventPublisher,
    *,
    now: datetime,
    settings: EngineSettings,
    limit: int = 200,
) -> SweepReport:
    redriven = failed = skipped = woken = 0
    for loaded in store.due(now, limit):
        try:
            outcome = _handle(store, publisher, loaded, now, settings)
        except StaleRun:
            outcome = "skipped"  # someone wrote the run meanwhile: it is alive
        except Exception:
            log.exception("sweep could not handle a run", extra={"runId": loaded.record.run_id})
            outcome = "skipped"
        if outcome == "redriven":
            redriven += 1
        elif outcome == "failed":
            failed += 1
        elif outcome == "woken":
            woken += 1
        else:
            skipped += 1
    report = SweepReport(redriven=redriven, failed=failed, skipped=skipped, woken=woken)
    if redriven or failed:
        log.warning("sweep acted on runs: %s", report)
    return report


def _handle(
    store: RunStore,
    publisher: EventPublisher,
    loaded: LoadedRun,
    now: datetime,
    settings: EngineSettings,
) -> str:
    run = loaded.record
    if run.status is RunStatus.WAITING:
        # Due at its wait's timeout (its deadline is later): the wait's outcome.
        return end_timed_out(store, publisher, loaded, now=now, settings=settings)
    if now >= run.deadline_at:
        reason = "deadline exceeded"
        current = current_step(run)
        if current:
            reason += f" during step {current}"
        last = last_step_error(run)
        if last:
            reason += f"; last error: {last}"
        end_run(store, loaded, RunStatus.FAILED, reason, now)
        log.error(
            "run failed by the sweep: %s",
            reason,
            extra={
                "runId": run.run_id,
                "workflow": run.workflow,
                "status": "FAILED",
                "reason": FailureReason.DEADLINE,
            },
        )
        return "failed"
    if run.lease_live(now):
        return "skipped"
    # Claim the re-drive first, so two overlapping sweeps publish once.
    store.update(
        run.run_id,
        loaded.version,
        RunPatch(fields={"watchdog_at": settings.watchdog(now, run.deadline_at)}),
    )
    publisher.publish_run(run.run_id, run.workflow)
    log.warning("run re-published by the sweep", extra={"runId": run.run_id})
    return "redriven"
