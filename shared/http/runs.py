"""/v1/runs/{runId}: a run's timeline, cancelling and resuming it."""

from __future__ import annotations

from shared.creation import events_of
from shared.engine import LoadedRun, RunView, registry, run_view
from shared.errors import NotFound
from shared.http.context import RequestContext
from shared.models.api import FunctionList, FunctionView, RunCancelled, RunResumed


def owned_run(ctx: RequestContext, run_id: str) -> LoadedRun:
    """The run if it belongs to the caller's tenant; 404 exactly like a missing one."""
    loaded = ctx.services.store.load(run_id)
    if loaded is None or loaded.record.tenant_id != ctx.principal.tenant_id:
        raise NotFound("run not found")
    return loaded


def get_run(ctx: RequestContext, run_id: str) -> RunView:
    run = owned_run(ctx, run_id).record
    return run_view(run, registry.get(run.workflow))


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
