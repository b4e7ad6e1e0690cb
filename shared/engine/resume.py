"""Resuming a FAILED or CANCELLED run: the same run goes back to the queue.

Completed steps keep their checkpoints, so the runner replays them and never
executes (or bills) them again; the steps that did not complete get their
attempts back, the run a fresh deadline, and the subject document is
IN_PROGRESS again. The change is one conditional commit on the run, so a
resume racing another resume, a cancel, the sweep or a late runner of the
previous execution either lands whole before them or sees the run moved on
and decides again; execution then goes through the lease as always.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from shared.engine.known_workflows import registry
from shared.engine.records import Resume, RunRecord, RunStatus, StepRecord, StepStatus, Write
from shared.engine.settings import EngineSettings
from shared.engine.store import (
    EventPublisher,
    LoadedRun,
    RunPatch,
    RunStore,
    publish_or_leave_to_sweep,
)
from shared.errors import NotResumable, StaleRun

log = logging.getLogger(__name__)

RESUMABLE = (RunStatus.FAILED, RunStatus.CANCELLED)


def _reset_steps(run: RunRecord) -> dict[str, StepRecord]:
    """Unfinished steps start their attempts afresh; their last error stays readable."""
    return {
        step_id: record.model_copy(update={"status": StepStatus.RETRYING, "attempts": 0})
        for step_id, record in run.steps.items()
        if record.status is not StepStatus.COMPLETED
    }


def _stored(resume: Resume) -> dict[str, Any]:
    data = resume.model_dump(by_alias=True)
    data["previousStatus"] = resume.previous_status.value
    return data


def resume_patch(
    run: RunRecord, *, by: str, now: datetime, settings: EngineSettings, operation_id: str | None
) -> tuple[RunPatch, list[Write]]:
    workflow = registry.get(run.workflow)
    deadline = now + (workflow.deadline if workflow else timedelta(minutes=15))
    resume = Resume(
        at=now,
        by=by,
        previous_status=run.status,
        previous_error=run.error,
        operation_id=operation_id,
    )
    fields: dict[str, Any] = {
        "status": RunStatus.QUEUED,
        "error": None,
        "finished_at": None,
        "deadline_at": deadline,
        "watchdog_at": settings.watchdog(now, deadline),
        "lease_owner": None,
        "lease_expires_at": None,
        "result_pending": False,
        "resumes": [_stored(r) for r in [*run.resumes, resume]],
    }
    marks = run.subject_fields
    writes = [] if marks is None else [marks.update(run.subject, marks.in_progress, None, now)]
    return RunPatch(fields=fields, steps=_reset_steps(run)), writes


def resume_run(
    store: RunStore,
    publisher: EventPublisher,
    loaded: LoadedRun,
    *,
    by: str,
    now: datetime,
    settings: EngineSettings,
    operation_id: str | None = None,
) -> RunRecord:
    """Queue a finished run again and ask for it to be executed.

    Raises NotResumable if it is not FAILED or CANCELLED (any more). A lost
    publish is the sweep's to repair: the run is QUEUED with a watchdog time.
    """
    for _ in range(5):
        run = loaded.record
        if run.status not in RESUMABLE:
            raise NotResumable(run.status.value)
        patch, writes = resume_patch(
            run, by=by, now=now, settings=settings, operation_id=operation_id
        )
        try:
            store.update(run.run_id, loaded.version, patch, writes)
        except StaleRun:
            fresh = store.load(run.run_id)
            if fresh is None:
                raise
            loaded = fresh
            continue
        break
    else:
        raise StaleRun(loaded.record.run_id)
    publish_or_leave_to_sweep(publisher, run, "resumed run")
    log.warning("run resumed", extra={"runId": run.run_id, "by": by})
    return run.model_copy(update={"status": RunStatus.QUEUED})
