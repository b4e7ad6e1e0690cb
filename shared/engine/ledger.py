"""Usage accounting: each commit's new tokens go to the run's total and the tenant's day.

A step's record carries its usage summed over attempts. When a commit
changes a step's usage, the difference from what that step had recorded is
added, in the same commit, to the run's `usage` and to one shard of the usage
document of (tenant, day, workflow) as increments. The commit is conditional on the run's
version, so the charge lands exactly once with the checkpoint or not at all:
a crash before it charges nothing, a crash after it leaves nothing to charge
again, and a duplicate delivery's commit fails its precondition.

Every create and every model step of a tenant increments that tenant's
document of the day, and Firestore sustains about one write a second per
document: a busy tenant's runs would queue on it (on the emulator, 100
creates at once failed 124 of 300 commits with "Transaction lock timeout";
`bench/usage_shards.py`). So the document is spread over `USAGE_SHARDS`
shards (`usage/<key>-<n>`), each write going to the shard its run and steps
hash to (the same on a retried commit), and readers sum the shards (each
carries the tenant, day and workflow, so the usage query finds them all).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from shared.engine.records import RunRecord, TokenUsage, Write
from shared.engine.store import RunPatch
from shared.engine.usage import DailyUsage, ModelUsage, Usage

USAGE_COLLECTION = "usage"
# Shards of one (tenant, day, workflow) usage document (see the module's docstring).
USAGE_SHARDS = 10
# Cost totals are rounded to this many decimals (a millionth of a cent), so
# float noise does not accumulate in the documents.
COST_DECIMALS = 8

Pricing = Callable[[TokenUsage], float]
# Where usage recorded before the split by model (without a model name) goes.
UNNAMED_MODEL = "unknown"


def usage_path(tenant_id: str, day: date, workflow: str, shard: int) -> str:
    """One shard of the document of a tenant, UTC day and workflow; the id hides the tenant."""
    key = f"{tenant_id}\x00{day.isoformat()}\x00{workflow}".encode()
    return f"{USAGE_COLLECTION}/{hashlib.sha256(key).hexdigest()[:40]}-{shard}"


def shard_of(*parts: str) -> int:
    """The shard a write goes to: spread by what is written, the same on a retried commit."""
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return int.from_bytes(digest[:4], "big") % USAGE_SHARDS


def _increments(run: RunRecord, day: date, shard: int, **counters: Any) -> Write:
    """Adds `counters` to the run's tenant, `day` and workflow (other fields are set)."""
    usage = DailyUsage(
        tenant_id=run.tenant_id, day=day.isoformat(), workflow=run.workflow, **counters
    )
    path = usage_path(run.tenant_id, day, run.workflow, shard)
    return Write(path=path, data=usage.stored(), mode="increment")


def run_counted(run: RunRecord) -> Write:
    """Counts a new run on its creation day; committed with the run's creation."""
    return _increments(run, run.created_at.date(), shard_of(run.run_id), runs=1)


class UsageLedger:
    def __init__(self, price: Pricing) -> None:
        self._price = price

    def cost(self, usage: TokenUsage | None) -> float:
        """Each model's tokens at that model's price (LLM_FALLBACKS: a step may pay two)."""
        return sum(u.cost_usd for u in self.by_model(usage).values())

    def by_model(self, usage: TokenUsage | None) -> dict[str, ModelUsage]:
        """`usage` split by model, each part priced at its model's price."""
        if usage is None:
            return {}
        split: dict[str, ModelUsage] = {}
        for model, tokens in usage.per_model().items():
            priced = TokenUsage(
                prompt_tokens=tokens.prompt_tokens,
                completion_tokens=tokens.completion_tokens,
                total_tokens=tokens.total_tokens,
                calls=tokens.calls,
                model=model or None,
            )
            split[model or UNNAMED_MODEL] = ModelUsage(
                prompt_tokens=tokens.prompt_tokens,
                completion_tokens=tokens.completion_tokens,
                total_tokens=tokens.total_tokens,
                cost_usd=self._price(priced),
            )
        return split

    def charge(self, run: RunRecord, patch: RunPatch, now: datetime) -> list[Write]:
        """Add the patch's new usage to it (run total) and return the day's increments.

        `run` is the run as last committed, so its step records hold the
        usage already charged.
        """
        prompt = completion = total = 0
        cost = 0.0
        models: dict[str, ModelUsage] = {}
        for step_id, record in patch.steps.items():
            if record.usage is None:
                continue
            earlier = run.steps.get(step_id)
            before = earlier.usage if earlier is not None else None
            prompt += record.usage.prompt_tokens - (before.prompt_tokens if before else 0)
            completion += record.usage.completion_tokens - (
                before.completion_tokens if before else 0
            )
            total += record.usage.total_tokens - (before.total_tokens if before else 0)
            cost += self.cost(record.usage) - self.cost(before)
            charged = self.by_model(before)
            for model, now_used in self.by_model(record.usage).items():
                was = charged.get(model, ModelUsage())
                added = ModelUsage(
                    prompt_tokens=now_used.prompt_tokens - was.prompt_tokens,
                    completion_tokens=now_used.completion_tokens - was.completion_tokens,
                    total_tokens=now_used.total_tokens - was.total_tokens,
                    cost_usd=now_used.cost_usd - was.cost_usd,
                )
                models[model] = models[model].plus(added) if model in models else added
        if not (prompt or completion or total):
            return []
        cost = round(cost, COST_DECIMALS)
        split = {
            model: added.model_copy(update={"cost_usd": round(added.cost_usd, COST_DECIMALS)})
            for model, added in models.items()
            if added.prompt_tokens or added.completion_tokens or added.total_tokens
        }
        patch.fields["usage"] = Usage(
            prompt_tokens=run.usage.prompt_tokens + prompt,
            completion_tokens=run.usage.completion_tokens + completion,
            total_tokens=run.usage.total_tokens + total,
            cost_usd=round(run.usage.cost_usd + cost, COST_DECIMALS),
        )
        return [
            _increments(
                run,
                now.date(),
                shard_of(run.run_id, *sorted(patch.steps)),
                prompt_tokens=prompt,
                completion_tokens=completion,
                total_tokens=total,
                cost_usd=cost,
                # Never an empty map: merged, it would replace the stored one.
                **({"models": split} if split else {}),
            )
        ]
