"""/v1/runs/{runId}: a run's timeline, cancelling, resuming, rerunning and signalling it."""

from __future__ import annotations

import json

from shared import creation
from shared.creation import events_of
from shared.engine import LoadedRun, RunView, checkpoint_bytes, registry, run_view
from shared.errors import NotFound
from shared.http.context import RequestContext
from shared.http.routing import Reply
from shared.models.api import (
    FunctionList,
    FunctionView,
    RerunRequest,
    RerunStarted,
    RunCancelled,
    RunOutputs,
    RunResumed,
    SignalDelivered,
    SignalPayload,
    StepOutput,
)


def owned_run(ctx: RequestContext, run_id: str) -> LoadedRun:
    """The run if it belongs to the caller's tenant; 404 exactly like a missing one."""
    loaded = ctx.services.store.load(run_id)
    if loaded is None or loaded.record.tenant_id != ctx.principal.tenant_id:
        raise NotFound("run not found")
    return loaded


def get_run(ctx: RequestContext, run_id: str) -> RunView:
    run = owned_run(ctx, run_id).record
    return run_view(run, registry.get(run.workflow))


def get_outputs(ctx: RequestContext, run_id: str) -> RunOutputs:
    """What each step read and returned: the console shows it without Firestore access.

    Apart from the run view because outputs are large (a programme's days)
    and the run view is sent on every change over the events stream.
    """
    run = owned_run(ctx, run_id).record
    steps: list[StepOutput] = []
    for step_id in run.step_order:
        record = run.steps.get(step_id)
        if record is None:
            continue
        text = record.output
        steps.append(
            StepOutput(
                id=step_id,
                status=record.status.value,
                output=None if text is None else json.loads(text),
                output_bytes=0 if text is None else checkpoint_bytes(text),
                reads=record.reads,
            )
        )
    return RunOutputs(run_id=run.run_id, input=run.input, steps=steps)


def cancel(ctx: RequestContext, run_id: str) -> RunCancelled:
    loaded = owned_run(ctx, run_id)
    run = ctx.services.engine.cancel(loaded)
    if run is None:
        raise NotFound("run not found")
    return RunCancelled(run_id=run_id, status=run.status.value)


def resume(ctx: RequestContext, run_id: str) -> RunResumed:
    loaded = owned_run(ctx, run_id)
    run = ctx.services.engine.resume(loaded, by=ctx.principal.user_id)
    return RunResumed(run_id=run.run_id, status=run.status.value)


def rerun(ctx: RequestContext, run_id: str, body: RerunRequest) -> Reply:
    """A new run of the same workflow reusing this one's checkpoints before `fromStep`."""
    source = owned_run(ctx, run_id)
    created = creation.rerun(ctx.origin(), source, body.from_step, body.input)
    started = RerunStarted(
        run_id=created.run_id,
        rerun_of=run_id,
        from_step=body.from_step,
        workflow=source.record.workflow,
        status="QUEUED" if not created.existing else created.status,
        subject_id=created.subject_id,
        version=created.version,
    )
    return Reply(started, {"Location": created.location})


def signal(ctx: RequestContext, run_id: str, name: str, body: SignalPayload) -> SignalDelivered:
    """The first signal that commits ends the wait; the engine answers 409 to the others."""
    loaded = owned_run(ctx, run_id)
    payload = dict(body.model_extra or {})
    run = ctx.services.engine.signal(loaded, name, payload, tenant_id=ctx.principal.tenant_id)
    return SignalDelivered(run_id=run_id, signal=name, status=run.status.value)


def list_functions(ctx: RequestContext) -> FunctionList:
    return FunctionList(
        functions=[
            FunctionView(
                id=wf.id,
                description=wf.description,
                steps=wf.declared_steps(),
                deadline_seconds=int(wf.deadline.total_seconds()),
                events=events_of(wf),
                version=wf.version,
            )
            for wf in registry.all_workflows()
        ]
    )
