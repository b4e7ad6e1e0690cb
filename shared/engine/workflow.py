"""Declaring workflows: an ordered list of stages, each one step or a fan-out.

Declaration is separate from execution so that `GET /v1/functions` can list
every workflow's steps without running anything, and so that the runner can
tell, from the declaration alone, which step comes next.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from shared.engine.meter import StepMeter
from shared.engine.model import SubjectFields, Write

InputT = TypeVar("InputT", bound=BaseModel)
OutT = TypeVar("OutT", bound=BaseModel)


class StepContext(Generic[InputT]):
    """What a step body sees: the run's input, earlier outputs, reads, and a write buffer.

    Writes are not applied when called: they are committed in one batch with
    the step's checkpoint, which is what makes a step's effect exactly-once.
    """

    def __init__(
        self,
        *,
        run_id: str,
        tenant_id: str,
        user_id: str,
        input: InputT,
        now: datetime,
        attempt: int,
        outputs: dict[str, BaseModel],
        reader: Callable[[str], dict[str, Any] | None],
        deps: Any,
        meter: StepMeter,
    ) -> None:
        self.run_id = run_id
        self.tenant_id = tenant_id
        self.user_id = user_id
        self.input = input
        self.now = now
        self.attempt = attempt
        self.deps = deps
        # Where model adapters report tokens and repairs (see `workflows.deps.llm`).
        self.meter = meter
        self._outputs = outputs
        self._reader = reader
        self.writes: list[Write] = []

    def output(self, step_id: str, model: type[OutT]) -> OutT:
        """The checkpointed output of an earlier step (typed, validated on load)."""
        value = self._outputs.get(step_id)
        if value is None:
            raise KeyError(f"step {step_id!r} has no output yet")
        if not isinstance(value, model):
            produced = type(value).__name__
            raise TypeError(f"step {step_id!r} produced {produced}, not {model.__name__}")
        return value

    def outputs_with_prefix(self, prefix: str, model: type[OutT]) -> dict[str, OutT]:
        """Outputs of a fan-out stage, keyed by step id."""
        found: dict[str, OutT] = {}
        for step_id, value in self._outputs.items():
            if step_id.startswith(prefix) and isinstance(value, model):
                found[step_id] = value
        return found

    def read(self, path: str) -> dict[str, Any] | None:
        return self._reader(path)

    def put(self, path: str, data: dict[str, Any]) -> None:
        self.writes.append(Write(path=path, data=data, mode="put"))

    def merge(self, path: str, data: dict[str, Any]) -> None:
        self.writes.append(Write(path=path, data=data, mode="merge"))


StepBody = Callable[[StepContext[Any]], BaseModel]
FanOutBody = Callable[[StepContext[Any], int], BaseModel]


@dataclass(frozen=True)
class Step:
    id: str
    body: StepBody
    output: type[BaseModel]
    # A pure step only reads: re-running it is harmless and cheap, so its
    # checkpoint rides on the next commit instead of costing a write.
    pure: bool = False

    def step_ids(self, ctx: StepContext[Any] | None = None) -> list[str]:
        return [self.id]


@dataclass(frozen=True)
class FanOut:
    """Steps `<id>-<n>` for each n that `over` returns, run concurrently."""

    id: str
    body: FanOutBody
    output: type[BaseModel]
    over: Callable[[StepContext[Any]], Sequence[int]]
    pure: bool = False

    def step_id(self, item: int) -> str:
        return f"{self.id}-{item}"

    def item_of(self, step_id: str) -> int:
        return int(step_id.removeprefix(f"{self.id}-"))


Stage = Step | FanOut


def _return_model(fn: Callable[..., Any]) -> type[BaseModel]:
    hints = typing.get_type_hints(fn)
    returned = hints.get("return")
    if not (isinstance(returned, type) and issubclass(returned, BaseModel)):
        raise TypeError(f"{fn.__name__} must be annotated to return a pydantic model")
    return returned


@dataclass
class Workflow(Generic[InputT]):
    id: str
    input_model: type[InputT]
    description: str
    deadline: timedelta = timedelta(minutes=15)
    # The fields of the run's subject document the engine sets when a run
    # fails, is cancelled or resumes (None: it leaves the subject alone).
    subject: SubjectFields | None = None
    stages: list[Stage] = field(default_factory=list)

    def step(self, step_id: str, *, pure: bool = False) -> Callable[[StepBody], StepBody]:
        def register(fn: StepBody) -> StepBody:
            self._add(Step(id=step_id, body=fn, output=_return_model(fn), pure=pure))
            return fn

        return register

    def fan_out(
        self, step_id: str, *, over: Callable[[StepContext[Any]], Sequence[int]]
    ) -> Callable[[FanOutBody], FanOutBody]:
        def register(fn: FanOutBody) -> FanOutBody:
            self._add(FanOut(id=step_id, body=fn, output=_return_model(fn), over=over))
            return fn

        return register

    def _add(self, stage: Stage) -> None:
        if any(existing.id == stage.id for existing in self.stages):
            raise ValueError(f"{self.id}: step {stage.id!r} declared twice")
        self.stages.append(stage)

    def stage_of(self, step_id: str) -> Stage:
        for stage in self.stages:
            if isinstance(stage, Step) and stage.id == step_id:
                return stage
            if isinstance(stage, FanOut) and step_id.startswith(f"{stage.id}-"):
                return stage
        raise KeyError(step_id)

    def declared_steps(self) -> list[str]:
        """Step ids as declared; a fan-out shows as `<id>-{n}`."""
        return [s.id if isinstance(s, Step) else f"{s.id}-{{n}}" for s in self.stages]
