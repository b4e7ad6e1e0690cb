"""Bulk cancel and resume: accepted at once, carried out by an `ops.*` run of the engine."""

from __future__ import annotations

from typing import Any

from shared.engine import RESUMABLE, RunStatus, Write, registry
from shared.errors import InvalidInput, RunExists
from shared.http.context import RequestContext
from shared.http.run_list import run_filter
from shared.http.subjects import owned_document, start_subject_run
from shared.models.common import GenerationStatus
from shared.models.runs import BulkRequest, BulkStarted, OperationView
from shared.workflows.ops import MAX_RUNS, Action, BulkInput, operation_path

# Which runs each action can act on; a status filter narrows these, never widens them.
ACTIONABLE: dict[Action, tuple[RunStatus, ...]] = {
    "cancel": (RunStatus.QUEUED, RunStatus.RUNNING),
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
        run_ids=body.run_ids,
        requested_by=ctx.principal.user_id,
    )
    path = operation_path(operation_id)
    document: dict[str, Any] = {
        "operationId": operation_id,
        "tenantId": tenant,
        "action": action,
        "matched": matched,
        "generationStatus": GenerationStatus.IN_PROGRESS.value,
        "createdAt": now,
        "createdBy": ctx.principal.user_id,
    }
    try:
        start_subject_run(
            ctx,
            workflow=workflow,
            run_input=spec,
            run_id=operation_id,
            subject=path,
            now=now,
            writes=[Write(path=path, data=document)],
        )
    except RunExists:
        # The same Idempotency-Key again: the operation it started.
        existing = ctx.services.documents.get(path) or {}
        return BulkStarted(operation_id=operation_id, matched=int(existing.get("matched", 0)))
    return BulkStarted(operation_id=operation_id, matched=matched)


def bulk_cancel(ctx: RequestContext, body: BulkRequest) -> BulkStarted:
    return _start(ctx, "cancel", body)


def bulk_resume(ctx: RequestContext, body: BulkRequest) -> BulkStarted:
    return _start(ctx, "resume", body)


def get_operation(ctx: RequestContext, operation_id: str) -> OperationView:
    doc = owned_document(ctx, operation_path(operation_id), "operation")
    pages: dict[str, dict[str, int]] = doc.get("pages") or {}
    finished = doc.get("generationStatus") == GenerationStatus.COMPLETED.value
    return OperationView(
        operation_id=operation_id,
        action=doc["action"],
        status=doc["generationStatus"],
        matched=doc["matched"],
        selected=doc.get("selected"),
        succeeded=doc["succeeded"] if finished else sum(p["succeeded"] for p in pages.values()),
        skipped=doc["skipped"] if finished else sum(p["skipped"] for p in pages.values()),
        created_at=doc["createdAt"],
        finished_at=doc.get("finishedAt"),
        error=doc.get("error"),
    )
