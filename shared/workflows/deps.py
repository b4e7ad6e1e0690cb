"""What workflow steps need from outside the engine: for now, a language model.

The model is built on first use, so a worker instance that only sweeps or
replays checkpoints never fetches the key from Secret Manager.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from shared.adapters.llm import LanguageModel
from shared.engine.workflow import StepContext


class WorkflowDeps:
    def __init__(self, llm_factory: Callable[[], LanguageModel]) -> None:
        self._factory = llm_factory
        self._llm: LanguageModel | None = None
        self._lock = threading.Lock()

    @property
    def llm(self) -> LanguageModel:
        with self._lock:
            if self._llm is None:
                self._llm = self._factory()
            return self._llm


def llm(ctx: StepContext[Any]) -> LanguageModel:
    deps = ctx.deps
    if not isinstance(deps, WorkflowDeps):
        raise TypeError("the runner was built without WorkflowDeps")
    return deps.llm
