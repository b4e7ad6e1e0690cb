"""A test workflow in several versions, for runs that start on one and continue on another.

Version 1: prepare (pure) -> draft (writes=False) -> save (writes) ->
days (a fan-out over 1..3, each writes) -> finish (marks the subject). Each
change a deploy can make is a keyword of `deployed`; `Recorder` counts the
steps that ran.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from shared.engine import StepContext, Workflow
from tests.helpers.engine_support import SUBJECT, Job, Recorder, Value

WORKFLOW_ID = "test.deployed"


class Noted(BaseModel):
    """Value with an optional field added: old checkpoints still fit."""

    n: int
    note: str | None = None


class Text(BaseModel):
    """Incompatible with Value: old checkpoints no longer fit."""

    text: str


def deployed(
    recorder: Recorder,
    *,
    add_review: bool = False,
    drop_draft: bool = False,
    rename_draft: bool = False,
    draft_output: type[BaseModel] = Value,
    save_output: type[BaseModel] = Value,
    days: int = 3,
    draft_fan_out: bool = False,
    save_first: bool = False,
) -> Workflow[Job]:
    wf: Workflow[Job] = Workflow(
        id=WORKFLOW_ID, input_model=Job, description="deployed twice", subject=SUBJECT
    )

    def make(model: type[BaseModel], n: int) -> Any:
        return model.model_validate({"n": n, "text": str(n)})

    @wf.step("prepare", pure=True)
    def prepare(ctx: StepContext[Job]) -> Value:
        recorder.hit("prepare", ctx)
        return Value(n=1)

    def save(ctx: StepContext[Job]) -> Any:
        recorder.hit("save", ctx)
        ctx.put(f"saved/{ctx.run_id}", {"attempt": ctx.attempt})
        return make(save_output, 3)

    save.__annotations__["return"] = save_output
    if save_first:
        wf.step("save")(save)

    if draft_fan_out:

        @wf.fan_out("draft", over=lambda ctx: [1, 2], writes=False)
        def drafts(ctx: StepContext[Job], n: int) -> Value:
            recorder.hit(f"draft-{n}", ctx)
            return Value(n=n)

    elif not drop_draft:
        draft_id = "compose" if rename_draft else "draft"

        def draft(ctx: StepContext[Job]) -> Any:
            recorder.hit(draft_id, ctx)
            return make(draft_output, 2)

        draft.__annotations__["return"] = draft_output
        wf.step(draft_id, writes=False)(draft)

    if not save_first:
        wf.step("save")(save)

    if add_review:

        @wf.step("review")
        def review(ctx: StepContext[Job]) -> Value:
            recorder.hit("review", ctx)
            return Value(n=4)

    @wf.fan_out("day", over=lambda ctx: list(range(1, days + 1)))
    def day(ctx: StepContext[Job], n: int) -> Value:
        recorder.hit(f"day-{n}", ctx)
        ctx.put(f"days/{ctx.run_id}-{n}", {"n": n})
        return Value(n=n)

    @wf.step("finish")
    def finish(ctx: StepContext[Job]) -> Value:
        recorder.hit("finish", ctx)
        ctx.merge(f"subjects/{ctx.run_id}", {"state": "COMPLETED"})
        return Value(n=len(ctx.outputs(day)))

    return wf
