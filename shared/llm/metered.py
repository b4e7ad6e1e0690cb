"""A `LanguageModel` bound to one step attempt's meter.

`shared.workflows.deps.llm(ctx)` hands a step the process's model wrapped in
this, so every call's tokens and repairs land in the step's record without
the step passing anything.
"""

from __future__ import annotations

from shared.llm.interface import Generation, LanguageModel, T, UsageSink

__all__ = ["MeteredModel"]


class MeteredModel:
    """A `LanguageModel` that reports to one step attempt's meter unless told otherwise."""

    def __init__(self, inner: LanguageModel, meter: UsageSink) -> None:
        self._inner = inner
        self._meter = meter

    @property
    def model_name(self) -> str:
        return self._inner.model_name

    def generate(
        self,
        schema: type[T],
        *,
        system: str,
        prompt: str,
        temperature: float,
        meter: UsageSink | None = None,
    ) -> Generation[T]:
        return self._inner.generate(
            schema,
            system=system,
            prompt=prompt,
            temperature=temperature,
            meter=meter or self._meter,
        )
