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
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from shared.engine.meter import StepMeter
from shared.engine.records import SubjectFields, Write
from shared.engine.versions import version_of
from shared.errors import UndeclaredInput

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
        inputs: tuple[str, ...] | None = None,
    ) -> None:
        self.run_id = run_id
        self.tenant_id = tenant_id
        self.user_id = user_id
        self.input = input if inputs is None else typing.cast(InputT, _Declared(input, inputs))
        self.now = now
        self.attempt = attempt
        self.deps = deps
        # Where model adapters report tokens and repairs (see `workflows.deps.llm`).
        self.meter = meter
        self._outputs = outputs
        self._reader = reader
        self.writes: list[Write] = []

    def output(self, step: Step[OutT]) -> OutT:
        """The checkpointed output of an earlier step, typed by its declaration."""
        value = self._outputs.get(step.id)
        if value is None:
            raise KeyError(f"step {step.id!r} has no output yet")
        self.meter.add_read(step.id)
        if not isinstance(value, step.output):
            produced = type(value).__name__
            raise TypeError(f"step {step.id!r} produced {produced}, not {step.output.__name__}")
        return value

    def outputs(self, fan_out: FanOut[OutT]) -> dict[int, OutT]:
        """The outputs of a fan-out's items so far, keyed by item."""
        found: dict[int, OutT] = {}
        for step_id, value in self._outputs.items():
            item = fan_out.item_of(step_id)
            if item is not None and isinstance(value, fan_out.output):
                found[item] = value
                self.meter.add_read(step_id)
        return dict(sorted(found.items()))

    def signal(self, wait: Wait[OutT]) -> OutT | None:
        """What a wait step ended with: its signal's payload, or None (timed out, skipped, slept).

        KeyError if the wait has not ended yet (a later step always runs after it has).
        """
        value = self._outputs.get(wait.id)
        if value is None:
            raise KeyError(f"wait {wait.id!r} has not ended yet")
        if isinstance(value, NoSignal):
            return None
        if not isinstance(value, wait.output):
            raise TypeError(f"wait {wait.id!r} holds {type(value).__name__}")
        return value

    def read(self, path: str) -> dict[str, Any] | None:
        return self._reader(path)

    def put(self, path: str, data: dict[str, Any]) -> None:
        self.writes.append(Write(path=path, data=data, mode="put"))

    def merge(self, path: str, data: dict[str, Any]) -> None:
        self.writes.append(Write(path=path, data=data, mode="merge"))


class _Declared:
    """A run's input as a step that declared its `inputs` sees it: other fields refuse to read.

    What makes the declaration true: a rerun trusts it to decide which
    overrides a reused checkpoint already consumed.
    """

    def __init__(self, model: BaseModel, inputs: tuple[str, ...]) -> None:
        self._model = model
        self._inputs = inputs

    def __getattr__(self, name: str) -> Any:
        if name in type(self._model).model_fields and name not in self._inputs:
            raise UndeclaredInput(name, self._inputs)
        return getattr(self._model, name)


@dataclass(frozen=True)
class Step(Generic[OutT]):
    """One step; the decorator returns it, and later steps read its output through it."""

    id: str
    body: Callable[[StepContext[Any]], OutT]
    output: type[OutT]
    # A pure step only reads: re-running it is harmless and cheap, so its
    # checkpoint rides on the next commit instead of costing a write.
    pure: bool = False
    # The run's input fields the body reads (python names); None: all of them.
    # A rerun may not override a field a reused step consumed (`engine.rerun`).
    inputs: tuple[str, ...] | None = None
    # False: the step writes no documents (a model call, a computation), so a
    # deploy that makes its checkpoint unreadable runs it again rather than
    # failing the run; writing anyway fails the step (docs/architecture.md).
    writes: bool = True
    kind: ClassVar[str] = "step"


@dataclass(frozen=True)
class FanOut(Generic[OutT]):
    """Steps `<id>-<n>` for each n that `over` returns, run concurrently."""

    id: str
    body: Callable[[StepContext[Any], int], OutT]
    output: type[OutT]
    over: Callable[[StepContext[Any]], Sequence[int]]
    # As `Step.inputs`, for the items and `over` alike.
    inputs: tuple[str, ...] | None = None
    # As `Step.writes`, for every item.
    writes: bool = True
    # Items may write; they are never pure.
    pure: ClassVar[bool] = False
    kind: ClassVar[str] = "fan-out"

    def step_id(self, item: int) -> str:
        return f"{self.id}-{item}"

    def item_of(self, step_id: str) -> int | None:
        """The item a step id belongs to; None if it is not one of this fan-out's."""
        prefix = f"{self.id}-"
        rest = step_id.removeprefix(prefix)
        if not step_id.startswith(prefix) or not rest.isdigit():
            return None
        return int(rest)


class NoSignal(BaseModel):
    """A wait's output when it ended without a payload: a sleep, a skipped wait, or a
    timeout that continues. Checkpointed as the JSON `null`."""

    model_config = ConfigDict(frozen=True)


NO_SIGNAL = NoSignal()
# The checkpoint text of `NO_SIGNAL`.
NO_SIGNAL_CHECKPOINT = "null"


class Slept(BaseModel):
    """The (never sent) payload model of a sleep: a sleep ends only by its time."""


@dataclass(frozen=True)
class Wait(Generic[OutT]):
    """A step that parks the run until its signal arrives or its timeout passes.

    Nothing runs while it waits: the delivery that reaches it commits the
    run WAITING (no lease, watchdog at the timeout) and acknowledges. The
    signal's payload, validated against `output` (and `check`), is the step's
    checkpointed output (`StepContext.signal`). A sleep is a wait with no
    signal whose timeout continues. See `engine.waits` for the mechanics.
    """

    id: str
    # The signal's name; None for a sleep.
    signal: str | None
    output: type[OutT]
    # How long it waits, decided when the run reaches it (a setting the run's
    # input carries, a sleep's duration or the time until its `until`).
    timeout: Callable[[StepContext[Any]], timedelta]
    # On timeout: end the run FAILED with `timeout_error`, or continue with no value.
    on_timeout: Literal["fail", "continue"] = "fail"
    timeout_error: Callable[[StepContext[Any]], str] | None = None
    # False: the wait is skipped (its output is no value), as if it never waited.
    when: Callable[[StepContext[Any]], bool] | None = None
    # Writes committed with the park (the subject showing what is awaited).
    on_wait: Callable[[StepContext[Any]], None] | None = None
    # A payload that fits `output` but not this run: raise ValueError (a 422).
    check: Callable[[StepContext[Any], OutT], None] | None = None
    # A payload that ends the run CANCELLED (a rejection): the reason, else None.
    cancel_if: Callable[[OutT], str | None] | None = None
    # A trigger event named `event` whose `data[match]` equals `key(ctx)` is the signal too.
    event: str | None = None
    match: str | None = None
    key: Callable[[StepContext[Any]], str] | None = None
    # Waits are never re-executed for a crash: no attempt accounting, no marks.
    pure: ClassVar[bool] = False
    # What a wait reads of the run's input (`when`, `timeout`, `key`): all of it.
    inputs: ClassVar[tuple[str, ...] | None] = None

    @property
    def kind(self) -> str:
        """`wait` or `sleep` (the workflow's version depends on it, `engine.versions`)."""
        return "sleep" if self.signal is None else "wait"

    @property
    def sleep(self) -> bool:
        return self.signal is None


Stage = Step[Any] | FanOut[Any] | Wait[Any]


V = TypeVar("V")


def _constant(value: V | Callable[[StepContext[Any]], V]) -> Callable[[StepContext[Any]], V]:
    if callable(value):
        return value

    def constant(ctx: StepContext[Any]) -> V:
        return value

    return constant


def _return_model(fn: Callable[..., OutT]) -> type[OutT]:
    hints = typing.get_type_hints(fn)
    returned = hints.get("return")
    if not (isinstance(returned, type) and issubclass(returned, BaseModel)):
        raise TypeError(f"{fn.__name__} must be annotated to return a pydantic model")
    return typing.cast(type[OutT], returned)


@dataclass
class Workflow(Generic[InputT]):
    id: str
    input_model: type[InputT]
    description: str
    deadline: timedelta = timedelta(minutes=15)
    # The fields of the run's subject document the engine sets when a run
    # fails, is cancelled or resumes (None: it leaves the subject alone).
    subject: SubjectFields | None = None
    # Trigger event names that start it (`shared.triggers`); None: its own id,
    # as the old app sent `brainstorm.generate-seeds`; () for none at all.
    events: tuple[str, ...] | None = None
    stages: list[Stage] = field(default_factory=list)
    # (the stages it was computed for, the version): recomputed when a stage is added.
    _version: tuple[tuple[int, ...], str] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def event_names(self) -> tuple[str, ...]:
        return (self.id,) if self.events is None else self.events

    @property
    def version(self) -> str:
        """A hash of the declaration (`engine.versions`), recorded on every run it starts."""
        key = tuple(id(stage) for stage in self.stages)
        if self._version is None or self._version[0] != key:
            self._version = (key, version_of(self))
        return self._version[1]

    def step(
        self,
        step_id: str,
        *,
        pure: bool = False,
        inputs: Sequence[str] | None = None,
        writes: bool = True,
    ) -> Callable[[Callable[[StepContext[Any]], OutT]], Step[OutT]]:
        """Declare the next step; the decorated name becomes its handle.

        `inputs` names the fields of the run's input the step reads (None:
        all); the body reading another raises `UndeclaredInput`. `writes=False`
        says it writes no documents (a pure step writes none either).
        """

        def register(fn: Callable[[StepContext[Any]], OutT]) -> Step[OutT]:
            step = Step(
                id=step_id,
                body=fn,
                output=_return_model(fn),
                pure=pure,
                inputs=self._inputs(step_id, inputs),
                writes=writes and not pure,
            )
            self._add(step)
            return step

        return register

    def fan_out(
        self,
        step_id: str,
        *,
        over: Callable[[StepContext[Any]], Sequence[int]],
        inputs: Sequence[str] | None = None,
        writes: bool = True,
    ) -> Callable[[Callable[[StepContext[Any], int], OutT]], FanOut[OutT]]:
        """Declare a fan-out: one step per item `over` returns, once earlier steps are done."""

        def register(fn: Callable[[StepContext[Any], int], OutT]) -> FanOut[OutT]:
            fan_out = FanOut(
                id=step_id,
                body=fn,
                output=_return_model(fn),
                over=over,
                inputs=self._inputs(step_id, inputs),
                writes=writes,
            )
            self._add(fan_out)
            return fan_out

        return register

    def _inputs(self, step_id: str, inputs: Sequence[str] | None) -> tuple[str, ...] | None:
        if inputs is None:
            return None
        unknown = sorted(set(inputs) - set(self.input_model.model_fields))
        if unknown:
            raise ValueError(f"{self.id}: step {step_id!r} declares unknown inputs {unknown}")
        return tuple(inputs)

    def wait_for_signal(
        self,
        step_id: str,
        *,
        signal: str,
        output: type[OutT],
        timeout: timedelta | Callable[[StepContext[Any]], timedelta],
        on_timeout: Literal["fail", "continue"] = "fail",
        timeout_error: str | Callable[[StepContext[Any]], str] | None = None,
        when: Callable[[StepContext[Any]], bool] | None = None,
        on_wait: Callable[[StepContext[Any]], None] | None = None,
        check: Callable[[StepContext[Any], OutT], None] | None = None,
        cancel_if: Callable[[OutT], str | None] | None = None,
        event: str | None = None,
        match: str = "key",
        key: Callable[[StepContext[Any]], str] | None = None,
    ) -> Wait[OutT]:
        """Declare the next step a wait for `signal` (or, with `event` and `key`, an event)."""
        if any(isinstance(s, Wait) and s.signal == signal for s in self.stages):
            raise ValueError(f"{self.id}: signal {signal!r} awaited twice")
        if (event is None) != (key is None):
            raise ValueError(f"{self.id}: a wait's event needs its key, and a key its event")
        wait = Wait(
            id=step_id,
            signal=signal,
            output=output,
            timeout=_constant(timeout),
            on_timeout=on_timeout,
            timeout_error=_constant(timeout_error) if timeout_error is not None else None,
            when=when,
            on_wait=on_wait,
            check=check,
            cancel_if=cancel_if,
            event=event,
            match=match if event is not None else None,
            key=key,
        )
        self._add(wait)
        return wait

    def sleep(
        self,
        step_id: str,
        *,
        duration: timedelta | None = None,
        until: Callable[[StepContext[Any]], datetime] | None = None,
    ) -> Wait[Slept]:
        """Declare the next step a durable sleep: for `duration`, or until the time `until` says."""
        if (duration is None) == (until is None):
            raise ValueError(f"{self.id}: a sleep takes a duration or an until, not both")
        timeout: Callable[[StepContext[Any]], timedelta] = _constant(duration or timedelta(0))
        if until is not None:
            wake = until

            def timeout(ctx: StepContext[Any]) -> timedelta:
                return max(wake(ctx) - ctx.now, timedelta(0))

        wait = Wait(id=step_id, signal=None, output=Slept, timeout=timeout, on_timeout="continue")
        self._add(wait)
        return wait

    def waits(self) -> list[Wait[Any]]:
        return [s for s in self.stages if isinstance(s, Wait)]

    def wait_for(self, signal: str) -> Wait[Any] | None:
        return next((w for w in self.waits() if w.signal == signal), None)

    def _add(self, stage: Stage) -> None:
        """Refuse an id that could be mistaken for another stage's, as declared or as an item."""
        for existing in self.stages:
            if existing.id == stage.id:
                raise ValueError(f"{self.id}: step {stage.id!r} declared twice")
            for fan_out, other in ((existing, stage), (stage, existing)):
                if isinstance(fan_out, FanOut) and other.id.startswith(f"{fan_out.id}-"):
                    raise ValueError(
                        f"{self.id}: step {other.id!r} collides with the items of "
                        f"fan-out {fan_out.id!r} ({fan_out.id}-<n>)"
                    )
        self.stages.append(stage)

    def stage_of(self, step_id: str) -> Stage:
        for stage in self.stages:
            if stage.id == step_id and isinstance(stage, Step | Wait):
                return stage
            if isinstance(stage, FanOut) and stage.item_of(step_id) is not None:
                return stage
        raise KeyError(step_id)

    def declared_steps(self) -> list[str]:
        """Step ids as declared; a fan-out shows as `<id>-{n}`."""
        return [f"{s.id}-{{n}}" if isinstance(s, FanOut) else s.id for s in self.stages]
