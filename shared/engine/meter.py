"""What one step attempt spent and repaired, collected while it runs.

Adapters report into a `StepMeter` through the `UsageSink` protocol (they
never import the engine); the runner folds the totals into the step's record
whether the attempt succeeds or fails, because a failed attempt's tokens are
paid for too.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from shared.engine.records import (
    MAX_FAILED_MODELS,
    MAX_MODEL_CALLS,
    FailedModel,
    ModelCall,
    TokenUsage,
)

if TYPE_CHECKING:
    from shared.engine.live import LiveStep

# Repairs kept on a step's record (which lives in the run document): an
# answer can need hundreds (every text of every session trimmed), and the
# first ones say what went wrong; the rest are counted.
MAX_REPAIRS = 20


class StepMeter:
    """Thread-safe: a step body may call the model from several threads."""

    def __init__(self, live: LiveStep | None = None) -> None:
        self._lock = threading.Lock()
        # Where streamed items go (the run's live log); None: nowhere.
        self._live = live
        # The streamed answer's items after repairs: the step's `final`.
        self.final_items: list[Any] | None = None
        self._usage: TokenUsage | None = None
        self._repairs: list[str] = []
        self._model: str | None = None
        self._failed: list[FailedModel] = []
        self._more_repairs = 0
        self._calls: list[ModelCall] = []
        self._reads: list[str] = []

    def add_usage(
        self, model: str, prompt_tokens: int, completion_tokens: int, total_tokens: int
    ) -> None:
        call = TokenUsage.of_call(model, prompt_tokens, completion_tokens, total_tokens)
        with self._lock:
            self._usage = call.plus(self._usage)

    def add_repairs(self, repairs: Sequence[str]) -> None:
        with self._lock:
            room = max(MAX_REPAIRS - len(self._repairs), 0)
            self._repairs.extend(repairs[:room])
            self._more_repairs += len(repairs[room:])

    def add_answer(self, model: str | None, failed: Sequence[Any]) -> None:
        """Which model answered a call (None: none did) and which failed before it.

        `failed` holds `shared.llm.interface.ModelFailure`s (read by their
        `model` and `error`, so the engine imports nothing of the adapters).
        """
        with self._lock:
            if model is not None:
                self._model = model
            self._failed.extend(FailedModel(model=f.model, error=f.error) for f in failed)
            del self._failed[:-MAX_FAILED_MODELS]

    def add_call(self, call: ModelCall) -> None:
        """One request to a model, for the attempt's history (the first MAX_MODEL_CALLS)."""
        with self._lock:
            if len(self._calls) < MAX_MODEL_CALLS:
                self._calls.append(call)

    def add_read(self, step_id: str) -> None:
        """The step read an earlier step's output (part of its input, for the console)."""
        with self._lock:
            if step_id not in self._reads:
                self._reads.append(step_id)

    @property
    def reads(self) -> list[str]:
        """The earlier steps whose outputs this attempt read, in the order it read them."""
        with self._lock:
            return list(self._reads)

    @property
    def calls(self) -> list[ModelCall]:
        """This attempt's model requests, in the order they ended."""
        with self._lock:
            return list(self._calls)

    # -- ItemSink (shared.llm.interface): a streaming model's items -------------

    def stream_started(self) -> None:
        if self._live is not None:
            self._live.log.started(self._live.step, self._live.attempt)
        with self._lock:
            self.final_items = None

    def add_item(self, item: Any) -> None:
        if self._live is not None:
            self._live.log.add(self._live.step, self._live.attempt, item)

    def stream_finished(self, items: list[Any]) -> None:
        with self._lock:
            self.final_items = list(items)

    @property
    def model(self) -> str | None:
        """The model that answered this attempt's latest call."""
        with self._lock:
            return self._model

    @property
    def failed_models(self) -> list[FailedModel]:
        with self._lock:
            return list(self._failed)

    @property
    def usage(self) -> TokenUsage | None:
        """This attempt's usage; None when it made no model call."""
        with self._lock:
            return self._usage

    @property
    def repairs(self) -> list[str]:
        with self._lock:
            more = [f"and {self._more_repairs} more"] if self._more_repairs else []
            return [*self._repairs, *more]
