"""One request to a model, seen from outside: a span with the GenAI attributes, and a
record of it in the step attempt's history.

The OpenAI adapter opens `model_call` around every request it sends (each
schema retry and each wait after a short 429 is a request of its own) and
fills in what the answer said (`CallFacts`). On the way out the call is:

- a span `chat {model}` (kind CLIENT) with the OpenTelemetry GenAI
  semantic-convention attributes (`gen_ai.operation.name`, `gen_ai.system`
  and `gen_ai.provider.name`, `gen_ai.request.model`,
  `gen_ai.request.temperature`, `gen_ai.response.model`,
  `gen_ai.response.finish_reasons`, `gen_ai.usage.input_tokens`,
  `gen_ai.usage.output_tokens`) and ours: `genjobs.llm.retry` (requests of
  this call before this one), `genjobs.llm.retry_reason` (`schema` or
  `rate_limit`), `genjobs.llm.repairs` (fixes the answer needed); a failed
  request has error status and its redacted message;
- a `ModelCall` on the attempt's meter, which the step's record keeps
  (the console's waterfall draws it).

Neither prompts nor answers are put on spans: they are the tenant's content.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Literal

from shared import tracing
from shared.engine import ModelCall
from shared.errors import describe
from shared.llm.interface import UsageSink
from shared.redaction import redact

__all__ = ["CallFacts", "RetryReason", "model_call"]

RetryReason = Literal["schema", "rate_limit"]


class CallFacts:
    """What one request's answer reported (zeros and None until an answer came)."""

    def __init__(self) -> None:
        self.total = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.response_model: str | None = None
        self.finish_reason: str | None = None
        self.repairs = 0


@contextmanager
def model_call(
    meter: UsageSink | None,
    *,
    provider: str,
    model: str,
    temperature: float,
    retry: int = 0,
    retry_reason: RetryReason | None = None,
) -> Iterator[CallFacts]:
    """Time one request to `model`; the block fills in the facts its answer gave."""
    facts = CallFacts()
    started = datetime.now(UTC)
    error: str | None = None
    with tracing.span(
        f"chat {model}",
        kind="client",
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.system": provider,
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": model,
            "gen_ai.request.temperature": temperature,
            "gen_ai.output.type": "json",
            "genjobs.llm.retry": retry,
            "genjobs.llm.retry_reason": retry_reason,
        },
    ) as span:
        try:
            yield facts
        except Exception as exc:
            error = redact(describe(exc))[:1000]
            span.fail(error, type(exc).__name__)
            raise
        finally:
            span.set_many(
                {
                    "gen_ai.response.model": facts.response_model,
                    "gen_ai.response.finish_reasons": (
                        [facts.finish_reason] if facts.finish_reason else None
                    ),
                    "gen_ai.usage.input_tokens": facts.prompt_tokens,
                    "gen_ai.usage.output_tokens": facts.completion_tokens,
                    "genjobs.llm.repairs": facts.repairs,
                }
            )
            if meter is not None:
                finished = datetime.now(UTC)
                meter.add_call(
                    ModelCall(
                        model=model,
                        started_at=started,
                        finished_at=finished,
                        duration_ms=int((finished - started).total_seconds() * 1000),
                        retry=retry,
                        retry_reason=retry_reason,
                        response_model=facts.response_model,
                        finish_reason=facts.finish_reason,
                        prompt_tokens=facts.prompt_tokens,
                        completion_tokens=facts.completion_tokens,
                        error=error,
                    )
                )
