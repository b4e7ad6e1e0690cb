"""A run's life outside the runner: creation, cancellation, dead-lettering.

Each transition is a conditional update of the run document, so it cannot
interleave with a runner's commit: whichever lands first wins, and the
other sees a stale version.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from shared import tracing
from shared.engine.ledger import run_counted
from shared.engine.records import RunRecord, RunSource, RunStatus, Write
from shared.engine.settings import EngineSettings
from shared.engine.store import EventPublisher, LoadedRun, RunStore, publish_or_leave_to_sweep
from shared.engine.transitions import FailureReason, end_run, last_step_error
from shared.engine.workflow import Workflow
from shared.errors import AlreadyFinished, StaleRun
from shared.tracing import TraceContext

log = logging.getLogger(__name__)


def new_run(
    workflow: Workflow[Any],
    run_input: BaseModel,
    *,
    run_id: str,
    tenant_id: str,
    user_id: str,
    subject: str,
    now: datetime,
    settings: EngineSettings,
    source: RunSource = "http",
    event_id: str | None = None,
    event_name: str | None = None,
    trace: TraceContext | None = None,
) -> RunRecord:
    """The run to create, QUEUED; `trace`: the span creating it (the run's trace)."""
    deadline = now + workflow.deadline
    return RunRecord(
        run_id=run_id,
        workflow=workflow.id,
        tenant_id=tenant_id,
        user_id=user_id,
        subject=subject,
        subject_fields=workflow.subject,
        input=run_input.model_dump(mode="json", by_alias=True),
        status=RunStatus.QUEUED,
        created_at=now,
        deadline_at=deadline,
        watchdog_at=settings.watchdog(now, deadline),
        source=source,
        event_id=event_id,
        event_name=event_name,
        workflow_version=workflow.version,
        trace_id=trace.trace_id if trace else None,
        trace_span_id=trace.span_id if trace else None,
        trace_sampled=trace.sampled if trace else False,
    )


def start_run(
    store: RunStore, publisher: EventPublisher, run: RunRecord, documents: Sequence[Write]
) -> None:
    """Commit the run with its domain documents, then ask for it to be executed.

    A publish that fails is logged, not raised: the run is already durable
    and QUEUED with a watchdog time, so the sweep publishes it again. The
    caller gets its 202 either way and the run is never orphaned.
    Raises RunExists if the run (or a document) already exists. The run is
    counted in its tenant's usage for the day in the same commit.
    """
    with tracing.span("commit run", attributes={"db.system.name": "firestore"}):
        store.create(run, [*documents, run_counted(run)])
    publish_or_leave_to_sweep(publisher, run, "run")


def cancel_run(
    store: RunStore,
    loaded: LoadedRun | None,
    now: datetime,
    reason: str = "cancelled on request",
) -> RunRecord | None:
    """Cancel a run that has not finished; None if it does not exist (any more).

    The runner notices at its next commit (its version is stale) and stops
    before another step's effects land.
    """
    for _ in range(5):
        if loaded is None:
            return None
        run_id = loaded.record.run_id
        run = loaded.record
        if run.status.terminal:
            raise AlreadyFinished(run.status.value)
        try:
            end_run(store, loaded, RunStatus.CANCELLED, reason, now)
        except StaleRun:
            loaded = store.load(run_id)
            continue
        return run.model_copy(update={"status": RunStatus.CANCELLED, "finished_at": now})
    raise StaleRun(loaded.record.run_id if loaded else "")


def fail_dead_lettered(store: RunStore, run_id: str, delivery_count: int, now: datetime) -> bool:
    """Pub/Sub gave up delivering the run: fail it with a reason a person can read.

    A run that a live runner still holds is left to that runner (the
    deliveries failed, the run did not); the sweep and the deadline still
    guard it.
    """
    for _ in range(5):
        loaded = store.load(run_id)
        if loaded is None or loaded.record.status.terminal:
            return False
        run = loaded.record
        if run.lease_live(now):
            return False
        reason = f"delivery failed {delivery_count} times and was dead-lettered"
        last = last_step_error(run)
        if last:
            reason += f"; last error: {last}"
        try:
            end_run(store, loaded, RunStatus.FAILED, reason, now)
        except StaleRun:
            continue
        log.error(
            "run failed after dead-lettering",
            extra={
                "runId": run_id,
                "workflow": run.workflow,
                "status": "FAILED",
                "reason": FailureReason.DEAD_LETTERED,
            },
        )
        return True
    return False
