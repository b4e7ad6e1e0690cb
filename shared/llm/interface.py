"""The narrow interface workflows use to ask a language model for structured content.

Workflows depend on this protocol only (the implementations beside it in
`shared.llm` are built by `shared.services`), so that the OpenAI adapter, the
offline placeholder provider and any test double are interchangeable, and so
that provider-specific failures arrive already sorted into the two outcomes
the engine understands:

- `shared.errors.TransientError`: another attempt may succeed (rate limit,
  provider 5xx, timeout, connection failure). The engine lets Pub/Sub
  redeliver with backoff.
- `shared.errors.NonRetriableError`: another attempt cannot help (refusal,
  rejected credentials or request, truncated answer, an answer that still
  violates the schema after the adapter's own retries). The run fails at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from shared.engine import ModelCall

__all__ = [
    "CallBudget",
    "Generation",
    "ItemSink",
    "LanguageModel",
    "ModelFailure",
    "T",
    "UsageSink",
]

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class Generation(Generic[T]):
    """A validated answer together with the model that produced it.

    The model name travels with the value because documents record it as
    `aiModel` (and "offline" must be visible to whoever reads the result).
    """

    value: T
    model: str


@dataclass(frozen=True)
class ModelFailure:
    """A model that did not answer a call, and why (as a person reads it)."""

    model: str
    error: str


class UsageSink(Protocol):
    """Where a model reports what a step's calls cost and what it repaired.

    The engine's per-attempt meter implements it; declared here so adapters
    never import the engine.
    """

    def add_usage(
        self, model: str, prompt_tokens: int, completion_tokens: int, total_tokens: int
    ) -> None: ...

    def add_repairs(self, repairs: Sequence[str]) -> None: ...

    def add_answer(self, model: str | None, failed: Sequence[ModelFailure]) -> None:
        """Which model answered a call (None: none did) and which failed before it."""
        ...

    def add_call(self, call: ModelCall) -> None:
        """One request to a model ended (`shared.llm.calls`): kept in the attempt's history."""
        ...


@runtime_checkable
class ItemSink(Protocol):
    """Where a streaming model reports the items of its answer as they complete.

    The engine's per-attempt meter implements it (it hands them to the run's
    live log); a sink that is not one (a plain `UsageSink`) gets no items.
    """

    def stream_started(self) -> None:
        """A new streamed answer begins: whatever this attempt showed so far is withdrawn."""
        ...

    def add_item(self, item: Any) -> None:
        """The answer's next completed item (JSON as the committed output has it)."""
        ...

    def stream_finished(self, items: list[Any]) -> None:
        """The validated answer's items (after repairs): what the step will commit."""
        ...


class CallBudget(Protocol):
    """The deployment's shared LLM budget, taken before every call to the provider.

    Implemented by `shared.llm.budget.LLMBudget`; adapters call it
    around each HTTP request, schema retries included.
    """

    def before_call(self, estimated_tokens: int) -> object:
        """Wait briefly for budget or raise `RateLimited`; a ticket for `after_call`."""
        ...

    def after_call(self, ticket: object, estimated_tokens: int, actual_tokens: int) -> None:
        """Correct the token count once the answer's usage is known (0 if none came)."""
        ...


class LanguageModel(Protocol):
    @property
    def model_name(self) -> str:
        """The configured model, "offline" for the placeholder provider."""
        ...

    def generate(
        self,
        schema: type[T],
        *,
        system: str,
        prompt: str,
        temperature: float,
        meter: UsageSink | None = None,
    ) -> Generation[T]:
        """Return an instance of `schema` produced by the model.

        `temperature` is passed to the provider exactly as given: 0.0 is a
        legitimate choice, not a missing value. Every answer received
        (including ones rejected and asked again) is reported to `meter`.
        """
        ...
