"""Declaring workflows: steps are referenced by the handles their declaration returns,
and ids that could be mistaken for another step's are refused at declaration."""

from __future__ import annotations

from typing import Any

import pytest

from shared.engine import FanOut, Step, StepContext, StepMeter, Workflow
from tests.helpers.engine_support import Days, Harness, Job, Recorder, Value, fan_out_workflow


def _workflow() -> Workflow[Job]:
    return Workflow(id="test.declared", input_model=Job, description="declarations")


def _days(ctx: StepContext[Any]) -> list[int]:
    return [1, 2]


def test_the_decorator_returns_a_handle_that_knows_the_steps_output_model():
    wf = _workflow()

    @wf.step("plan")
    def plan(ctx: StepContext[Job]) -> Days:
        return Days(days=[1])

    @wf.fan_out("day", over=_days)
    def day(ctx: StepContext[Job], n: int) -> Value:
        return Value(n=n)

    assert isinstance(plan, Step)
    assert (plan.id, plan.output) == ("plan", Days)
    assert isinstance(day, FanOut)
    assert (day.step_id(3), day.item_of("day-3"), day.item_of("daylight-3")) == ("day-3", 3, None)


def test_a_step_id_declared_twice_is_refused():
    wf = _workflow()

    @wf.step("plan")
    def plan(ctx: StepContext[Job]) -> Value:
        return Value(n=1)

    with pytest.raises(ValueError, match="declared twice"):

        @wf.step("plan")
        def again(ctx: StepContext[Job]) -> Value:
            return Value(n=2)


@pytest.mark.parametrize("order", ["fan-out first", "step first"])
def test_a_step_named_like_a_fan_outs_items_is_refused(order: str):
    wf = _workflow()

    def declare_step() -> None:
        @wf.step("day-1")
        def first_day(ctx: StepContext[Job]) -> Value:
            return Value(n=1)

    def declare_fan_out() -> None:
        @wf.fan_out("day", over=_days)
        def day(ctx: StepContext[Job], n: int) -> Value:
            return Value(n=n)

    first, second = (
        (declare_fan_out, declare_step)
        if order == "fan-out first"
        else (declare_step, declare_fan_out)
    )
    first()
    with pytest.raises(ValueError, match="collides with the items of fan-out 'day'"):
        second()


def test_a_fan_outs_outputs_are_read_by_item_through_its_handle(
    engine: Harness, recorder: Recorder
):
    engine.start(fan_out_workflow(recorder, days=3))

    assert engine.deliver() == "COMPLETED"

    assert engine.subject()["total"] == 6  # collect summed ctx.outputs(day) by item


def test_reading_an_output_through_a_handle_checks_its_model():
    wf = _workflow()

    @wf.step("plan")
    def plan(ctx: StepContext[Job]) -> Days:
        return Days(days=[1])

    ctx: StepContext[Job] = StepContext(
        run_id="r",
        tenant_id="t",
        user_id="u",
        input=Job(),
        now=Harness().clock(),
        attempt=1,
        outputs={"plan": Value(n=1)},  # a checkpoint of another shape
        reader=lambda path: None,
        deps=None,
        meter=StepMeter(),
    )

    with pytest.raises(TypeError, match="produced Value, not Days"):
        ctx.output(plan)
