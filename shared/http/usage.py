"""`GET /v1/usage`: what the tenant's runs used and cost, per UTC day and workflow, by model.

Also the tenant's admission limits and, against the daily ones, what is
left today (`shared.admission`).
"""

from __future__ import annotations

from datetime import UTC

from shared.admission import Standing, next_utc_day
from shared.engine import COST_DECIMALS, ModelUsage
from shared.http.context import RequestContext
from shared.models.common import projected
from shared.models.runs import (
    ModelUsageFigures,
    UsageFigures,
    UsageLimits,
    UsageQuery,
    UsageReport,
    UsageRow,
    UsageToday,
)


def _by_model(split: dict[str, ModelUsage]) -> list[ModelUsageFigures]:
    """A usage split as rows, by model name, costs rounded like the totals."""
    return [
        projected(
            ModelUsageFigures,
            used,
            model=model,
            cost_usd=round(used.cost_usd, COST_DECIMALS),
        )
        for model, used in sorted(split.items())
    ]


def get_usage(ctx: RequestContext, query: UsageQuery) -> UsageReport:
    days = ctx.services.usage.days(ctx.principal.tenant_id, query.first, query.last)
    rows = [
        projected(
            UsageRow,
            doc,
            cost_usd=round(doc.cost_usd, COST_DECIMALS),
            models=_by_model(doc.models),
        )
        for doc in days
    ]
    overall: dict[str, ModelUsage] = {}
    for doc in days:
        for model, used in doc.models.items():
            overall[model] = overall[model].plus(used) if model in overall else used
    totals = UsageFigures(
        runs=sum(r.runs for r in rows),
        prompt_tokens=sum(r.prompt_tokens for r in rows),
        completion_tokens=sum(r.completion_tokens for r in rows),
        total_tokens=sum(r.total_tokens for r in rows),
        cost_usd=round(sum(r.cost_usd for r in rows), COST_DECIMALS),
        models=_by_model(overall),
    )
    limits = ctx.services.admission.limits
    now = ctx.services.now()
    day = now.astimezone(UTC).date()
    # Read even without a daily limit: the report says what today has used.
    tokens, cost = ctx.services.usage.day_totals(ctx.principal.tenant_id, day)
    standing = Standing(
        day=day, total_tokens=tokens, cost_usd=cost, limits=limits, resets_at=next_utc_day(now)
    )
    today = UsageToday(
        day=standing.day.isoformat(),
        total_tokens=tokens,
        cost_usd=cost,
        tokens_left=standing.tokens_left,
        cost_usd_left=standing.cost_usd_left,
        resets_at=standing.resets_at,
    )
    return UsageReport(
        days=rows,
        totals=totals,
        limits=UsageLimits(
            creates_per_minute=limits.creates_per_minute,
            daily_tokens=limits.daily_tokens,
            daily_cost_usd=limits.daily_cost_usd,
        ),
        today=today,
    )
