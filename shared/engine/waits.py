"""Waits: a run parked in Firestore until a signal arrives or its timeout passes.

A workflow declares a wait step (`Workflow.wait_for_signal`, `Workflow.sleep`).
The delivery that reaches it commits the run `WAITING` in one conditional
update (`park_patch`): no lease, the watchdog at the wait's timeout, the wait
(`RunRecord.wait`) and the step's `WAITING` record; then it acknowledges.
Nothing holds the run while it waits: no instance, no thread, no lease, no
Pub/Sub message, and no write (the sweep's query skips it until its watchdog).

The wait ends exactly once, by whichever of these commits first, each
conditional on the run's version as loaded:
- a signal (`signal_run`): the payload, validated against the wait's model,
  is the step's checkpointed output; the run goes back to QUEUED (or ends
  CANCELLED, if the wait's `cancel_if` says so) and is published at once;
- its timeout, found by the sweep (`end_timed_out`): FAILED with the wait's
  reason, or QUEUED and published with no value;
- a cancel (`lifecycle.cancel_run`).
The losers see a stale version, reload, find the run no longer waiting on
that step, and change nothing (a signal answers `Conflict`, 409).

Time spent waiting does not count against the run's deadline: parking
extends it by the timeout, and ending the wait gives the run back the time it
had left when it parked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from shared.engine.meter import StepMeter
from shared.engine.plan import Reader, RunPlan
from shared.engine.records import RunRecord, RunStatus, StepRecord, StepStatus, WaitState, Write
from shared.engine.settings import EngineSettings
from shared.engine.store import (
    EventPublisher,
    LoadedRun,
    RunPatch,
    RunStore,
    publish_or_leave_to_sweep,
)
from shared.engine.transitions import FailureReason, subject_status_writes, terminal_fields
from shared.engine.workflow import NO_SIGNAL_CHECKPOINT, StepContext, Wait, Workflow
from shared.errors import Conflict, InvalidInput, NotFound, StaleRun

log = logging.getLogger(__name__)

# How often a signal reloads and decides again after losing a race to another write.
SIGNAL_TRIES = 5


def wait_state(wait: Wait[Any], ctx: StepContext[Any], run: RunRecord, now: datetime) -> WaitState:
    """The wait a run parks on; an earlier park on this step keeps its timeout."""
    if run.wait is not None and run.wait.step == wait.id:
        return run.wait
    return WaitState(
        step=wait.id,
        signal=wait.signal,
        since=now,
        timeout_at=now + wait.timeout(ctx),
        on_timeout=wait.on_timeout,
        timeout_error=wait.timeout_error(ctx) if wait.timeout_error is not None else None,
        event=wait.event,
        match=wait.match,
        key=wait.key(ctx) if wait.key is not None else None,
    )


def park_patch(run: RunRecord, state: WaitState) -> RunPatch:
    """The run WAITING on `state`: no lease, its watchdog at the timeout, its deadline
    moved by the time it may wait."""
    previous = run.wait if run.wait is not None and run.wait.step == state.step else None
    deadline = run.deadline_at
    if previous is None:
        deadline = run.deadline_at + max(state.timeout_at - state.since, timedelta(0))
    return RunPatch(
        fields={
            "status": RunStatus.WAITING,
            "lease_owner": None,
            "lease_expires_at": None,
            "watchdog_at": state.timeout_at,
            "deadline_at": deadline,
            "wait": state,
        },
        steps={
            state.step: StepRecord(status=StepStatus.WAITING, attempts=0, started_at=state.since)
        },
    )


def _continued(run: RunRecord, now: datetime, settings: EngineSettings) -> dict[str, Any]:
    """The run QUEUED again after its wait, with the time it had left when it parked."""
    wait = run.wait
    left = run.deadline_at - wait.timeout_at if wait is not None else timedelta(0)
    deadline = max(now + left, now) if wait is not None else run.deadline_at
    return {
        "status": RunStatus.QUEUED,
        "wait": None,
        "deadline_at": deadline,
        "watchdog_at": settings.watchdog(now, deadline),
    }


def _ended(wait: WaitState, status: StepStatus, now: datetime, **fields: Any) -> StepRecord:
    return StepRecord(
        status=status,
        attempts=1,
        started_at=wait.since,
        finished_at=now,
        duration_ms=int((now - wait.since).total_seconds() * 1000),
        **fields,
    )


def _back_in_progress(run: RunRecord, now: datetime) -> list[Write]:
    marks = run.subject_fields
    return [] if marks is None else [marks.update(run.subject, marks.in_progress, None, now)]


def _invalid(exc: ValidationError) -> InvalidInput:
    details = [
        {"field": ".".join(str(p) for p in err["loc"]) or "(body)", "message": err["msg"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:3])
    return InvalidInput(summary or "the signal's payload does not fit", details=details)


def _not_waiting(run: RunRecord, wait: Wait[Any], name: str) -> Conflict:
    record = run.steps.get(wait.id)
    if (
        record is not None
        and record.status in (StepStatus.COMPLETED, StepStatus.FAILED)
        and (run.wait is None or run.wait.step != wait.id)
    ):
        return Conflict(
            f"signal {name!r} was already delivered, or its wait ended (run is {run.status.value})"
        )
    if run.status.terminal:
        return Conflict(
            f"the run is {run.status.value}: signal {name!r} can no longer be delivered"
        )
    return Conflict(f"the run is not waiting for signal {name!r} (it is {run.status.value})")


def signal_run(
    store: RunStore,
    publisher: EventPublisher,
    loaded: LoadedRun | None,
    workflows: Callable[[str], Workflow[Any] | None],
    name: str,
    payload: Mapping[str, Any] | BaseModel,
    *,
    now: datetime,
    settings: EngineSettings,
    deps: Any,
    tenant_id: str | None = None,
    event_id: str | None = None,
) -> RunRecord:
    """Deliver signal `name` to a run waiting for it: exactly once.

    `event_id`: the trigger event that carries it, kept on the run
    (`signal_event`) so the same event delivered again is known.

    NotFound: no such run (or another tenant's, when `tenant_id` is given),
    or its workflow awaits no such signal. InvalidInput: the payload does not
    fit the wait's model (or its `check`). Conflict: the run is not waiting
    for it (not yet, or any more: a duplicate, a racing signal that lost, a
    signal after the timeout or a cancel). Nothing changes in those cases.
    Returns the run as the winning commit left it (QUEUED, or CANCELLED).
    """
    if loaded is None or (tenant_id is not None and loaded.record.tenant_id != tenant_id):
        raise NotFound("run not found")
    workflow = workflows(loaded.record.workflow)
    wait = workflow.wait_for(name) if workflow is not None else None
    if workflow is None or wait is None:
        raise NotFound(f"the run's workflow waits for no signal named {name!r}")
    data = payload
    if isinstance(payload, BaseModel):
        data = payload.model_dump(mode="json", by_alias=True)
    try:
        value = wait.output.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc) from None
    for _ in range(SIGNAL_TRIES):
        run = loaded.record
        state = run.wait
        if run.status is not RunStatus.WAITING or state is None or state.step != wait.id:
            raise _not_waiting(run, wait, name)
        if wait.check is not None:
            try:
                wait.check(_context(workflow, run, store.read, deps, now), value)
            except ValueError as exc:
                raise InvalidInput(str(exc)) from None
        output = value.model_dump_json()
        reason = wait.cancel_if(value) if wait.cancel_if is not None else None
        if reason is None:
            patch = RunPatch(
                fields=_continued(run, now, settings),
                steps={wait.id: _ended(state, StepStatus.COMPLETED, now, output=output)},
            )
            writes = _back_in_progress(run, now)
            status = RunStatus.QUEUED
        else:
            # The payload is kept for the timeline, but not as a checkpoint:
            # a resumed run waits for a new signal rather than replaying this one.
            patch = RunPatch(
                fields=terminal_fields(RunStatus.CANCELLED, reason, now),
                steps={wait.id: _ended(state, StepStatus.FAILED, now, output=output, error=reason)},
            )
            writes = subject_status_writes(run, RunStatus.CANCELLED, None, now)
            status = RunStatus.CANCELLED
        if event_id is not None:
            patch.fields["signal_event"] = event_id
        try:
            store.update(run.run_id, loaded.version, patch, writes)
        except StaleRun:
            fresh = store.load(run.run_id)
            if fresh is None:
                raise NotFound("run not found") from None
            loaded = fresh
            continue
        log.info(
            "signal delivered",
            extra={"runId": run.run_id, "signal": name, "status": status.value},
        )
        if status is RunStatus.QUEUED:
            publish_or_leave_to_sweep(publisher, run, "signalled run")
        return run.model_copy(update={**patch.fields, "status": status})
    raise Conflict(f"the run kept changing; signal {name!r} was not delivered, send it again")


def _context(
    workflow: Workflow[Any], run: RunRecord, reader: Reader, deps: Any, now: datetime
) -> StepContext[Any]:
    plan = RunPlan(workflow, run, reader, deps)
    plan.replay()
    return plan.context(now=now, attempt=1, meter=StepMeter())


def end_timed_out(
    store: RunStore,
    publisher: EventPublisher,
    loaded: LoadedRun,
    *,
    now: datetime,
    settings: EngineSettings,
) -> str:
    """The sweep's part: end a wait whose timeout passed with its declared outcome.

    Returns what it did ("failed", "woken" or "skipped"); raises StaleRun if
    the run moved meanwhile (a signal or a cancel won), which the sweep skips.
    """
    run = loaded.record
    wait = run.wait
    if wait is None:
        # WAITING with nothing to wait for cannot be committed; queue it, to be safe.
        wait = WaitState(step="", since=now, timeout_at=now, on_timeout="continue")
    if now < wait.timeout_at:
        store.update(run.run_id, loaded.version, RunPatch(fields={"watchdog_at": wait.timeout_at}))
        return "skipped"
    if wait.on_timeout == "fail":
        what = f"signal {wait.signal!r}" if wait.signal else "its time"
        error = wait.timeout_error or f"step {wait.step} timed out waiting for {what}"
        steps = {wait.step: _ended(wait, StepStatus.FAILED, now, error=error)}
        store.update(
            run.run_id,
            loaded.version,
            RunPatch(fields=terminal_fields(RunStatus.FAILED, error, now), steps=steps),
            subject_status_writes(run, RunStatus.FAILED, error, now),
        )
        log.error(
            "run failed by the sweep: %s",
            error,
            extra={
                "runId": run.run_id,
                "workflow": run.workflow,
                "status": "FAILED",
                "reason": FailureReason.WAIT_TIMEOUT,
            },
        )
        return "failed"
    steps = {}
    if wait.step:
        steps[wait.step] = _ended(wait, StepStatus.COMPLETED, now, output=NO_SIGNAL_CHECKPOINT)
    store.update(
        run.run_id,
        loaded.version,
        RunPatch(fields=_continued(run, now, settings), steps=steps),
        _back_in_progress(run, now),
    )
    publish_or_leave_to_sweep(publisher, run, "woken run")
    log.info("wait ended by its time", extra={"runId": run.run_id, "step": wait.step})
    return "woken"
