"""What a run has cost: tokens and an estimated price, as stored on the run document."""

from __future__ import annotations

from shared.models.common import CamelModel


class Usage(CamelModel):
    """Tokens used and their estimated cost; zero until an LLM step has reported any."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0
