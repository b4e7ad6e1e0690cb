"""Bulk cancel and resume: accepted at once, carried out by an `ops.*` run of the engine."""

from __future__ import annotations

from shared.creation import start_subject_run
from shared.engine import RESUMABLE, RunStatus, Write, registry
from shared.errors import InvalidInput, RunExists
from shared.http.context import RequestContext
from shared.http.run_list import run_filter
from shared.http.subjects import owned_document
from shared.models.common import GenerationStatus, projected
from shared.models.documents import Operation
from shared.models.runs import BulkRequest, BulkStarted, OperationView
from shared.workflows.ops import MAX_RUNS, Action, BulkInput, operation_path

# Which runs each action can act on; a status filter narrows these, never widens them.
ACTIONABLE: dict[Action, tuple[RunStatus, ...]] = {
    "cancel": (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING),
    "resume": RESUMABLE,
}


def _statuses(action: Action, body: BulkRequest) -> list[RunStatus]:
    allowed = ACTIONABLE[action]
    if body.status is None:
        return list(allowed)
    wrong = [s.value for s in body.status if s not in allowed]
    if wrong:
        names = ", ".join(s.value for s in allowed)
        raise InvalidInput(
            f"status: bulk-{action} acts only on {names} runs, not {', '.join(wrong)}",
            details=[{"field": "status", "message": f"must be among {names}"}],
        )
    return list(dict.fromkeys(body.status))


def _start(ctx: RequestContext, action: Action, body: BulkRequest) -> BulkStarted:
    statuses = _statuses(action, body)
    where = run_filter(body.model_copy(update={"status": statuses}))
    tenant = ctx.principal.tenant_id
    index = ctx.services.run_index
    if body.run_ids is not None:
        matched = len(index.pick(tenant, where, body.run_ids))
    else:
        matched = index.count(tenant, where)
    if matched > MAX_RUNS:
        raise InvalidInput(
            f"{matched} runs match; one operation acts on at most {MAX_RUNS}: narrow the filter"
        )
    _, operation_id, _ = ctx.new_ids(f"bulk-{action}")
    workflow = registry.get(f"ops.bulk-{action}")
    assert workflow is not None
    now = ctx.services.now()
    spec = BulkInput(
        operation_id=operation_id,
        action=action,
        statuses=statuses,
        workflow=body.workflow,
        created_after=body.created_after,
        created_before=body.created_before,
        source=body.source,
        run_ids=body.run_ids,
        requested_by=ctx.principal.user_id,
    )
    path = operation_path(operation_id)
    operation = Operation(
        operation_id=operation_id,
        tenant_id=tenant,
        action=action,
        matched=matched,
        generation_status=GenerationStatus.IN_PROGRESS,
        created_at=now,
        created_by=ctx.principal.user_id,
    )
    try:
        start_subject_run(
            ctx.origin(),
            workflow=workflow,
            run_input=spec,
            run_id=operation_id,
            subject=path,
            now=now,
            writes=[Write(path=path, data=operation.stored())],
        )
    except RunExists:
        # The same Idempotency-Key again: the operation it started.
        existing = ctx.services.documents.get(path, Operation)
        return BulkStarted(operation_id=operation_id, matched=existing.matched if existing else 0)
    return BulkStarted(operation_id=operation_id, matched=matched)


def bulk_cancel(ctx: RequestContext, body: BulkRequest) -> BulkStarted:
    return _start(ctx, "cancel", body)


def bulk_resume(ctx: RequestContext, body: BulkRequest) -> BulkStarted:
    return _start(ctx, "resume", body)


def get_operation(ctx: RequestContext, operation_id: str) -> OperationView:
    operation = owned_document(ctx, operation_path(operation_id), Operation, "operation")
    pages = (operation.pages or {}).values()
    if operation.generation_status == GenerationStatus.COMPLETED:
        succeeded, skipped = operation.succeeded, operation.skipped
    else:
        succeeded, skipped = sum(p.succeeded for p in pages), sum(p.skipped for p in pages)
    return projected(
        OperationView,
        operation,
        status=operation.generation_status,
        succeeded=succeeded,
        skipped=skipped,
    )
