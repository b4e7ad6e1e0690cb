"""ops.bulk-cancel and ops.bulk-resume: acting on thousands of runs, durably, on this engine.

An operation is itself a run. `select-runs` pins the matching run ids
(checkpointed, so a crash never re-selects a different set), one `apply-N`
step per page acts on its runs, and `finish` writes the totals. Each run is
changed by its own conditional commit, so a page that is redone after a
crash recognises the runs it already handled (by the operation's id in
their resume or cancel record) and counts them once. Progress is readable on
the operation's document (`GET /v1/operations/{id}`) and on its run.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from shared.engine import (
    LoadedRun,
    RunFilter,
    RunSource,
    RunStatus,
    StepContext,
    Workflow,
    registry,
)
from shared.errors import AlreadyFinished, NotResumable
from shared.models.common import CamelModel, GenerationStatus
from shared.models.documents import Operation, PageResult
from shared.workflows.deps import OpsDeps, ops
from shared.workflows.subject import GENERATION_SUBJECT

PAGE_SIZE = 100
# More than this in one operation is refused at the API: narrow the filter.
MAX_RUNS = 10_000
OPS_PREFIX = "ops."

Action = Literal["cancel", "resume"]


class BulkInput(CamelModel):
    operation_id: str
    action: Action
    statuses: list[RunStatus]
    workflow: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    run_ids: list[str] | None = None
    requested_by: str
    source: RunSource | None = None

    def where(self) -> RunFilter:
        return RunFilter(
            statuses=tuple(self.statuses),
            workflow=self.workflow,
            created_after=self.created_after,
            created_before=self.created_before,
            source=self.source,
        )


class Selection(CamelModel):
    pages: list[list[str]]


class OperationResult(CamelModel):
    selected: int
    succeeded: int
    skipped: int


def operation_path(operation_id: str) -> str:
    return f"operations/{operation_id}"


def cancel_reason(operation_id: str) -> str:
    return f"cancelled by bulk operation {operation_id}"


def _bulk(action: Action) -> Workflow[BulkInput]:
    flow: Workflow[BulkInput] = Workflow(
        id=f"{OPS_PREFIX}bulk-{action}",
        input_model=BulkInput,
        description=f"{action.capitalize()} every run that matches a filter, page by page.",
        deadline=timedelta(minutes=30),
        subject=GENERATION_SUBJECT,
        # Started by the bulk routes only: no trigger event may start one.
        events=(),
    )

    @flow.step("select-runs")
    def select_runs(ctx: StepContext[BulkInput]) -> Selection:
        ids = _matching_ids(ops(ctx), ctx.tenant_id, ctx.input)
        pages = [ids[i : i + PAGE_SIZE] for i in range(0, len(ids), PAGE_SIZE)]
        ctx.merge(
            operation_path(ctx.input.operation_id),
            Operation.patch(selected=len(ids), page_count=len(pages), updated_at=ctx.now),
        )
        return Selection(pages=pages)

    def pages(ctx: StepContext[BulkInput]) -> list[int]:
        return list(range(len(ctx.output(select_runs).pages)))

    @flow.fan_out("apply", over=pages)
    def apply(ctx: StepContext[BulkInput], page: int) -> PageResult:
        run_ids = ctx.output(select_runs).pages[page]
        done = sum(_apply(ops(ctx), ctx, run_id) for run_id in run_ids)
        result = PageResult(succeeded=done, skipped=len(run_ids) - done)
        ctx.merge(
            operation_path(ctx.input.operation_id),
            Operation.patch(pages={str(page): result}, updated_at=ctx.now),
        )
        return result

    @flow.step("finish")
    def finish(ctx: StepContext[BulkInput]) -> OperationResult:
        results = ctx.outputs(apply).values()
        total = OperationResult(
            selected=sum(len(p) for p in ctx.output(select_runs).pages),
            succeeded=sum(r.succeeded for r in results),
            skipped=sum(r.skipped for r in results),
        )
        ctx.merge(
            operation_path(ctx.input.operation_id),
            Operation.patch(
                selected=total.selected,
                succeeded=total.succeeded,
                skipped=total.skipped,
                generation_status=GenerationStatus.COMPLETED,
                finished_at=ctx.now,
                updated_at=ctx.now,
            ),
        )
        return total

    registry.register(flow)
    return flow


def _matching_ids(deps: OpsDeps, tenant_id: str, spec: BulkInput) -> list[str]:
    """The runs to act on, pinned once; operations never act on operations."""
    where = spec.where()
    if spec.run_ids is not None:
        return deps.index.pick(tenant_id, where, spec.run_ids)
    ids: list[str] = []
    cursor = None
    while len(ids) < MAX_RUNS:
        page = deps.index.page(tenant_id, where, 500, cursor)
        ids.extend(r.run_id for r in page.runs if not r.workflow.startswith(OPS_PREFIX))
        cursor = page.next
        if cursor is None:
            break
    return ids[:MAX_RUNS]


def _apply(deps: OpsDeps, ctx: StepContext[BulkInput], run_id: str) -> bool:
    """Act on one run; True if this operation resumed or cancelled it (now or before a crash)."""
    loaded = deps.engine.store.load(run_id)
    if loaded is None or loaded.record.tenant_id != ctx.tenant_id:
        return False
    if loaded.record.workflow.startswith(OPS_PREFIX):
        return False
    if ctx.input.action == "resume":
        return _resume(deps, ctx.input, loaded)
    return _cancel(deps, ctx.input, loaded)


def _resume(deps: OpsDeps, spec: BulkInput, loaded: LoadedRun) -> bool:
    run = loaded.record
    if run.resumes and run.resumes[-1].operation_id == spec.operation_id:
        return True
    try:
        deps.engine.resume(loaded, by=spec.requested_by, operation_id=spec.operation_id)
    except NotResumable:
        return False
    return True


def _cancel(deps: OpsDeps, spec: BulkInput, loaded: LoadedRun) -> bool:
    run = loaded.record
    reason = cancel_reason(spec.operation_id)
    if run.status is RunStatus.CANCELLED and run.error == reason:
        return True
    try:
        cancelled = deps.engine.cancel(loaded, reason=reason)
    except AlreadyFinished:
        return False
    return cancelled is not None


bulk_cancel = _bulk("cancel")
bulk_resume = _bulk("resume")
