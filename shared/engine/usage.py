"""What runs have cost: tokens and an estimated price, on the run and per tenant and day."""

from __future__ import annotations

from pydantic import Field

from shared.wire import CamelModel, Document


class Usage(CamelModel):
    """Tokens used and their estimated cost; zero until an LLM step has reported any."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0


class ModelUsage(Usage):
    """One model's share of a day's usage: its tokens at its own price (LLM_PRICES)."""

    def plus(self, other: Usage) -> ModelUsage:
        return ModelUsage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
        )


class DailyUsage(Usage, Document):
    """The usage document of one tenant, UTC day and workflow (`usage/{hash}`).

    The ledger writes it only as increments (a run counted at creation, each
    commit's new tokens), so a write sets just the counters it adds to;
    `GET /v1/usage` reads it. A counter never added to reads as zero.
    """

    # ISO date: as text, a range of days is a range query on it.
    day: str
    workflow: str
    runs: int = 0
    # The tokens and cost above split by the model that was called (with
    # LLM_FALLBACKS, a day can pay several); a map of increments like the
    # totals. The totals stay flat, so one aggregation query sums a day.
    models: dict[str, ModelUsage] = Field(default_factory=dict)
