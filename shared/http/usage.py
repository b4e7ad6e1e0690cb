"""`GET /v1/usage`: what the tenant's runs used and cost, per UTC day and workflow."""

from __future__ import annotations

from shared.engine import COST_DECIMALS
from shared.http.context import RequestContext
from shared.models.common import projected
from shared.models.runs import UsageFigures, UsageQuery, UsageReport, UsageRow


def get_usage(ctx: RequestContext, query: UsageQuery) -> UsageReport:
    rows = [
        projected(UsageRow, doc, cost_usd=round(doc.cost_usd, COST_DECIMALS))
        for doc in ctx.services.usage.days(ctx.principal.tenant_id, query.first, query.last)
    ]
    totals = UsageFigures(
        runs=sum(r.runs for r in rows),
        prompt_tokens=sum(r.prompt_tokens for r in rows),
        completion_tokens=sum(r.completion_tokens for r in rows),
        total_tokens=sum(r.total_tokens for r in rows),
        cost_usd=round(sum(r.cost_usd for r in rows), COST_DECIMALS),
    )
    return UsageReport(days=rows, totals=totals)
