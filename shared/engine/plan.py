"""What a run's declaration says is left to do, given the outputs checkpointed so far.

Also the one place a `StepContext` is built, so a step body and the
functions that decide a fan-out's items see the same view of the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from shared.engine.meter import StepMeter
from shared.engine.records import RunRecord, StepStatus
from shared.engine.workflow import (
    NO_SIGNAL,
    NO_SIGNAL_CHECKPOINT,
    FanOut,
    Stage,
    StepContext,
    Wait,
    Workflow,
)

log = logging.getLogger(__name__)

Reader = Callable[[str], dict[str, Any] | None]


class RunPlan:
    """A workflow's stages against one run's outputs.

    `outputs` grows as steps complete (from several fan-out threads; the
    runner's commit lock orders those writes).
    """

    def __init__(self, workflow: Workflow[Any], run: RunRecord, reader: Reader, deps: Any) -> None:
        self.workflow = workflow
        self.run = run
        self.outputs: dict[str, BaseModel] = {}
        self._reader = reader
        self._deps = deps
        self._input: BaseModel | None = None
        self._replayed = False
        # Completed steps with effects whose checkpoints no longer fit (`replay`).
        self.misfits: list[str] = []

    @property
    def stages(self) -> list[Stage]:
        return self.workflow.stages

    def replay(self) -> None:
        """Rebuild completed steps' outputs from their checkpoints (once per plan).

        Against a newer declaration than the run started on (a deploy), the
        rules of docs/architecture.md ("Deploys and reruns"): steps are
        matched by id, so a checkpoint of a step the declaration no longer
        has is ignored; one that no longer validates against its step's
        output model is dropped so the step runs again, unless the step
        wrote documents (its effects are in place and would be repeated):
        then it is a misfit, and the runner fails the run saying so.
        """
        if self._replayed:
            return
        self._replayed = True
        for step_id, record in self.run.steps.items():
            if record.status is not StepStatus.COMPLETED or record.output is None:
                continue
            try:
                stage = self.workflow.stage_of(step_id)
            except KeyError:
                continue  # removed (or renamed) since the run started: ignored
            if isinstance(stage, Wait) and record.output == NO_SIGNAL_CHECKPOINT:
                self.outputs[step_id] = NO_SIGNAL  # slept, skipped, or timed out
                continue
            try:
                self.outputs[step_id] = stage.output.model_validate_json(record.output)
            except ValidationError:
                effects = record.effects
                if effects is None:  # a record from before `effects` was kept
                    effects = bool(getattr(stage, "writes", True)) and not stage.pure
                if effects:
                    self.misfits.append(step_id)
                else:
                    log.warning(
                        "a checkpoint no longer fits its output model; the step runs again",
                        extra={"step": step_id},
                    )

    def changed_reason(self) -> str | None:
        """Why the run cannot continue on this declaration, if it cannot (a misfit)."""
        self.replay()
        if not self.misfits:
            return None
        step_id = self.misfits[0]
        return (
            f"workflow changed: step {step_id}'s output no longer fits "
            f"(the run started on version {self.run.workflow_version or 'unknown'}, "
            f"this deploy runs {self.workflow.version}; the step wrote documents, "
            "so it is not run again)"
        )

    def input(self) -> BaseModel:
        """The run's input, validated once per delivery rather than once per step."""
        if self._input is None:
            self._input = self.workflow.input_model.model_validate(self.run.input)
        return self._input

    def context(
        self,
        *,
        now: datetime,
        attempt: int,
        meter: StepMeter,
        inputs: tuple[str, ...] | None = None,
    ) -> StepContext[Any]:
        """What a step body (or a fan-out's `over`) sees; `inputs`: what the stage declared."""
        return StepContext(
            run_id=self.run.run_id,
            tenant_id=self.run.tenant_id,
            user_id=self.run.user_id,
            input=self.input(),
            now=now,
            attempt=attempt,
            outputs=dict(self.outputs),
            reader=self._reader,
            deps=self._deps,
            meter=meter,
            inputs=inputs,
        )

    def step_ids(self, stage: Stage, now: datetime) -> list[str]:
        """The concrete step ids of a stage; KeyError if a fan-out is not decided yet."""
        if not isinstance(stage, FanOut):
            return [stage.id]
        ctx = self.context(now=now, attempt=0, meter=StepMeter(), inputs=stage.inputs)
        return [stage.step_id(item) for item in stage.over(ctx)]

    def todo(self, stage: Stage, now: datetime) -> list[str]:
        return [s for s in self.step_ids(stage, now) if s not in self.outputs]

    def stage_done(self, stage: Stage, now: datetime) -> bool:
        return not self.todo(stage, now)

    def index(self, stage: Stage) -> int:
        return self.stages.index(stage)

    def is_last(self, stage: Stage) -> bool:
        return self.index(stage) == len(self.stages) - 1

    def first_open_stage(self, now: datetime) -> int | None:
        for index, stage in enumerate(self.stages):
            try:
                if self.todo(stage, now):
                    return index
            except KeyError:
                return index
        return None
