"""What runs have cost: tokens and an estimated price, on the run and per tenant and day."""

from __future__ import annotations

from shared.wire import CamelModel, Document


class Usage(CamelModel):
    """Tokens used and their estimated cost; zero until an LLM step has reported any."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0


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
