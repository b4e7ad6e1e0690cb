"""What workflow steps need from outside the engine: for now, a language model.

The model is built on first use, so a worker instance that only sweeps or
replays checkpoints never fetches the key from Secret Manager. `llm(ctx)`
hands a step the model bound to its attempt's meter, so every call's tokens
land in the step's record without the step passing anything.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.engine import Engine, RunIndex, StepContext
from shared.llm.interface import LanguageModel
from shared.llm.metered import MeteredModel


@dataclass(frozen=True)
class OpsDeps:
    """What the `ops.*` workflows act on: the engine's own runs, through its verbs."""

    engine: Engine
    index: RunIndex


class WorkflowDeps:
    def __init__(
        self, llm_factory: Callable[[], LanguageModel], ops: OpsDeps | None = None
    ) -> None:
        self.ops = ops
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
    return MeteredModel(deps.llm, ctx.meter)


def ops(ctx: StepContext[Any]) -> OpsDeps:
    deps = ctx.deps
    if not isinstance(deps, WorkflowDeps) or deps.ops is None:
        raise TypeError("the runner was built without OpsDeps")
    return deps.ops
