"""What every way of ending a run writes, shared by the runner, cancel, dead-letter and sweep."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.engine.records import RunRecord, RunStatus, StepStatus, Write
from shared.engine.store import LoadedRun, RunPatch, RunStore


class FailureReason(StrEnum):
    """Why a run ended FAILED, as a class: logged as `reason`, which alerts group by."""

    NON_RETRIABLE = "non_retriable"  # a step said another attempt cannot help
    # a step failed (or its worker died) STEP_MAX_ATTEMPTS times
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    DEADLINE = "deadline"
    DEAD_LETTERED = "dead_lettered"
    UNKNOWN_WORKFLOW = "unknown_workflow"
    # a wait step's signal did not come before its timeout (`engine.waits`)
    WAIT_TIMEOUT = "wait_timeout"
    # a deploy changed a step's output model and the run's checkpoint of it,
    # which wrote documents, no longer fits (docs/architecture.md)
    WORKFLOW_CHANGED = "workflow_changed"


def terminal_fields(status: RunStatus, error: str | None, now: datetime) -> dict[str, Any]:
    """A finished run holds no lease, no wait and no watchdog time, so the sweep ignores it."""
    return {
        "status": status,
        "finished_at": now,
        "error": error,
        "lease_owner": None,
        "lease_expires_at": None,
        "watchdog_at": None,
        "wait": None,
    }


def subject_status_writes(
    run: RunRecord, status: RunStatus, error: str | None, now: datetime
) -> list[Write]:
    """Mark the run's subject FAILED or CANCELLED, in the fields its workflow declared."""
    if run.subject_fields is None:
        return []
    return [run.subject_fields.update(run.subject, status.value, error, now)]


def last_step_error(run: RunRecord) -> str | None:
    for step_id in reversed(run.step_order):
        record = run.steps.get(step_id)
        if record is not None and record.error:
            return f"{step_id}: {record.error}"
    return None


def current_step(run: RunRecord) -> str | None:
    for step_id in run.step_order:
        record = run.steps.get(step_id)
        if record is not None and record.status is not StepStatus.COMPLETED:
            return step_id
    return None


def end_run(
    store: RunStore, loaded: LoadedRun, status: RunStatus, error: str | None, now: datetime
) -> None:
    """End a run from outside the runner (cancel, dead letter, sweep), if it is unchanged.

    Raises StaleRun when the run moved on since it was loaded; the caller
    reloads and decides again.
    """
    run = loaded.record
    subject_error = None if status is RunStatus.CANCELLED else error
    store.update(
        run.run_id,
        loaded.version,
        RunPatch(fields=terminal_fields(status, error, now)),
        subject_status_writes(run, status, subject_error, now),
    )
