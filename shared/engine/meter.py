"""What one step attempt spent and repaired, collected while it runs.

Adapters report into a `StepMeter` through the `UsageSink` protocol (they
never import the engine); the runner folds the totals into the step's record
whether the attempt succeeds or fails, because a failed attempt's tokens are
paid for too.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from shared.engine.records import TokenUsage


class StepMeter:
    """Thread-safe: a step body may call the model from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._usage: TokenUsage | None = None
        self._repairs: list[str] = []

    def add_usage(
        self, model: str, prompt_tokens: int, completion_tokens: int, total_tokens: int
    ) -> None:
        call = TokenUsage(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=total_tokens,
            calls=1,
            model=model,
        )
        with self._lock:
            self._usage = call.plus(self._usage)

    def add_repairs(self, repairs: Sequence[str]) -> None:
        with self._lock:
            self._repairs.extend(repairs)

    @property
    def usage(self) -> TokenUsage | None:
        """This attempt's usage; None when it made no model call."""
        with self._lock:
            return self._usage

    @property
    def repairs(self) -> list[str]:
        with self._lock:
            return list(self._repairs)
