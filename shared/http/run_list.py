"""`GET /v1/runs`: an operator's search over the tenant's runs, newest first, page by page."""

from __future__ import annotations

from typing import Annotated

from pydantic import WithJsonSchema

from shared.engine import RunFilter, RunSource, RunStatus, RunSummary, Usage, registry
from shared.errors import InvalidInput
from shared.http import page_tokens
from shared.http.context import RequestContext
from shared.models.common import CamelModel, projected
from shared.models.runs import RunCriteria, RunListQuery


class RunListItem(RunSummary):
    # The engine's summary as the API publishes it: status as a plain string
    # and usage always present (an override keeps the field's place).
    status: Annotated[RunStatus, WithJsonSchema({"type": "string"})]
    usage: Usage
    source: RunSource


class RunList(CamelModel):
    runs: list[RunListItem]
    next_page_token: str | None = None


def run_filter(criteria: RunCriteria) -> RunFilter:
    """The engine's filter for validated criteria; an unknown workflow is the caller's mistake."""
    if criteria.workflow is not None and registry.get(criteria.workflow) is None:
        known = ", ".join(w.id for w in registry.all_workflows())
        raise InvalidInput(
            f"workflow: unknown workflow (known: {known})",
            details=[{"field": "workflow", "message": "unknown workflow"}],
        )
    return RunFilter(
        statuses=tuple(dict.fromkeys(criteria.status)) if criteria.status else None,
        workflow=criteria.workflow,
        created_after=criteria.created_after,
        created_before=criteria.created_before,
        source=criteria.source,
    )


def _scope(where: RunFilter) -> str:
    """The search's criteria, canonically: a page token is only valid for the same search."""
    statuses = sorted(s.value for s in where.statuses) if where.statuses else []
    after = where.created_after.isoformat() if where.created_after else ""
    before = where.created_before.isoformat() if where.created_before else ""
    scope = f"{','.join(statuses)}|{where.workflow or ''}|{after}|{before}"
    # Appended only when given, so a token of a search without it stays valid.
    return scope if where.source is None else f"{scope}|{where.source}"


def _item(run: RunSummary) -> RunListItem:
    return projected(RunListItem, run)


def list_runs(ctx: RequestContext, query: RunListQuery) -> RunList:
    where = run_filter(query)
    tenant = ctx.principal.tenant_id
    scope = _scope(where)
    after = page_tokens.decode(query.page_token, tenant, scope) if query.page_token else None
    page = ctx.services.run_index.page(tenant, where, query.page_size, after)
    token = page_tokens.encode(page.next, tenant, scope) if page.next is not None else None
    return RunList(runs=[_item(r) for r in page.runs], next_page_token=token)
