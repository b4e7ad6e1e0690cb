"""Rerun from a step (`Engine.plan_rerun`, `Engine.rerun`): reuse before it, run from it, link."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from shared.engine import RunStatus, StepContext, StepStatus, Workflow
from shared.engine.testing import RETRY, InMemoryRunStore
from shared.errors import Conflict, InvalidInput, TransientError
from tests.helpers.engine_support import SUBJECT, Harness, Recorder, Value, fan_out_workflow
from tests.helpers.versions_support import WORKFLOW_ID, Text, deployed


class Params(BaseModel):
    name: str = "job"
    scale: int = 1
    tone: str = "plain"


def _params_workflow(recorder: Recorder) -> Workflow[Params]:
    """pick (reads name) -> draft (reads scale) -> save (reads name); tone read by no step."""
    wf: Workflow[Params] = Workflow(
        id="test.params", input_model=Params, description="inputs", subject=SUBJECT
    )

    @wf.step("pick", inputs=["name"])
    def pick(ctx: StepContext[Params]) -> Value:
        recorder.hit("pick", ctx)
        return Value(n=len(ctx.input.name))

    @wf.step("draft", inputs=["scale"])
    def draft(ctx: StepContext[Params]) -> Value:
        recorder.hit("draft", ctx)
        return Value(n=ctx.output(pick).n * ctx.input.scale)

    @wf.step("save", inputs=["name"])
    def save(ctx: StepContext[Params]) -> Value:
        recorder.hit("save", ctx)
        ctx.merge(f"subjects/{ctx.run_id}", {"state": "COMPLETED", "value": ctx.output(draft).n})
        return Value(n=ctx.output(draft).n)

    return wf


def _params_run(engine: Harness, recorder: Recorder) -> None:
    """run-1 of the params workflow, completed."""
    engine.start(_params_workflow(recorder))
    engine.run_to_end()


def _rerun(
    engine: Harness, from_step: str, overrides: dict[str, Any] | None = None, run_id: str = "run-2"
) -> str:
    return engine.rerun("run-1", from_step, input=overrides, run_id=run_id)


def test_a_rerun_from_one_fan_out_item_runs_that_item_and_what_follows_only(
    engine: Harness, recorder: Recorder
):
    engine.start(fan_out_workflow(recorder, days=4))
    engine.run_to_end()

    _rerun(engine, "day-3")
    finished = engine.run_to_end("run-2")

    assert finished.status is RunStatus.COMPLETED
    assert recorder.calls == {
        "plan": 1,
        "day-1": 1,
        "day-2": 1,
        "day-3": 2,
        "day-4": 1,
        "collect": 2,
    }
    assert {s for s, r in finished.steps.items() if r.reused_from == "run-1"} == {
        "plan",
        "day-1",
        "day-2",
        "day-4",
    }


def test_a_rerun_links_to_its_source_and_the_source_to_its_reruns(
    engine: Harness, recorder: Recorder
):
    engine.start(fan_out_workflow(recorder))
    engine.run_to_end()

    _rerun(engine, "collect", run_id="run-2")
    _rerun(engine, "day", run_id="run-3")

    assert engine.run("run-2").rerun_of == "run-1"
    assert engine.run("run-3").rerun_from == "day"
    assert engine.run("run-1").reruns == ["run-2", "run-3"]


def test_reused_steps_are_not_billed_again(engine: Harness, recorder: Recorder):
    engine.start(fan_out_workflow(recorder))
    engine.run_to_end()

    _rerun(engine, "collect")

    reused = engine.run("run-2").steps
    assert all(r.usage is None and r.attempts == 0 for r in reused.values())
    assert all(r.status is StepStatus.COMPLETED for r in reused.values())


def test_an_override_of_an_input_a_reused_step_consumed_is_refused_naming_it(
    engine: Harness, recorder: Recorder
):
    _params_run(engine, recorder)
    source = engine.store.load("run-1")
    assert source is not None

    with pytest.raises(InvalidInput, match=r"scale \(read by draft\)"):
        engine.engine.plan_rerun(source, "save", {"scale": 3, "tone": "warm"})


def test_an_override_read_only_from_from_step_on_is_taken(engine: Harness, recorder: Recorder):
    _params_run(engine, recorder)

    _rerun(engine, "draft", {"scale": 3})
    engine.run_to_end("run-2")

    assert engine.document("subjects/run-2")["value"] == 3 * len("job")
    assert recorder.calls["pick"] == 1


def test_an_override_the_input_model_refuses_is_refused(engine: Harness, recorder: Recorder):
    _params_run(engine, recorder)
    source = engine.store.load("run-1")
    assert source is not None

    with pytest.raises(InvalidInput, match="scale"):
        engine.engine.plan_rerun(source, "draft", {"scale": "many"})
    with pytest.raises(InvalidInput, match="scale"):
        engine.engine.plan_rerun(source, "draft", {"scale": "3"})
    with pytest.raises(InvalidInput, match="unknown field"):
        engine.engine.plan_rerun(source, "draft", {"colour": "red"})


def test_a_step_reading_an_input_it_did_not_declare_fails_the_run(engine: Harness):
    wf: Workflow[Params] = Workflow(
        id="test.undeclared", input_model=Params, description="lies", subject=SUBJECT
    )

    @wf.step("sneak", inputs=["name"])
    def sneak(ctx: StepContext[Params]) -> Value:
        return Value(n=ctx.input.scale)

    engine.workflows[wf.id] = wf
    engine.engine.start(
        wf, Params(), run_id="run-1", tenant_id="org-a", user_id="u", subject="subjects/run-1"
    )

    finished = engine.run_to_end()

    assert finished.status is RunStatus.FAILED
    assert "input field 'scale'" in (finished.run.error or "")


def test_a_rerun_of_a_run_that_has_not_finished_is_a_conflict(engine: Harness, recorder: Recorder):
    def fail_once(ctx: Any) -> None:
        if ctx.attempt == 1:
            raise TransientError("not yet")

    recorder.on["collect"] = fail_once
    engine.start(fan_out_workflow(recorder))
    assert engine.deliver() == RETRY
    source = engine.store.load("run-1")
    assert source is not None
    assert source.record.status is RunStatus.RUNNING

    with pytest.raises(Conflict, match="RUNNING"):
        engine.engine.plan_rerun(source, "collect", {})


def test_a_rerun_from_a_step_the_workflow_does_not_have_is_refused(
    engine: Harness, recorder: Recorder
):
    engine.start(fan_out_workflow(recorder, days=2))
    engine.run_to_end()
    source = engine.store.load("run-1")
    assert source is not None

    with pytest.raises(InvalidInput, match="not a step"):
        engine.engine.plan_rerun(source, "nope", {})
    with pytest.raises(InvalidInput, match="no such step"):
        engine.engine.plan_rerun(source, "day-7", {})


class _LinkFails(InMemoryRunStore):
    """Refuses the first update of run-1 (the rerun's source) as a store error would."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse = False

    def update(self, run_id: str, version: object, patch: Any, writes: Any = ()) -> object:
        if self.refuse and run_id == "run-1":
            self.refuse = False
            raise RuntimeError("Firestore unavailable")
        return super().update(run_id, version, patch, writes)


def test_a_link_to_the_source_lost_at_creation_is_made_by_the_reruns_first_delivery(
    recorder: Recorder,
):
    store = _LinkFails()
    engine = Harness(store=store)
    engine.start(fan_out_workflow(recorder))
    engine.run_to_end()
    store.refuse = True

    _rerun(engine, "collect")
    assert engine.run("run-1").reruns == []

    assert engine.deliver("run-2") == "COMPLETED"
    assert engine.run("run-1").reruns == ["run-2"]


def test_a_rerun_on_a_newer_version_runs_again_the_reused_steps_that_no_longer_fit(
    engine: Harness, recorder: Recorder
):
    engine.start(deployed(recorder))
    engine.run_to_end()
    engine.workflows[WORKFLOW_ID] = deployed(recorder, draft_output=Text)

    _rerun(engine, "save")
    finished = engine.run_to_end("run-2")

    assert finished.status is RunStatus.COMPLETED
    assert finished.steps["prepare"].reused_from == "run-1"
    assert finished.steps["draft"].reused_from is None
    assert recorder.calls["draft"] == 2
    assert finished.run.workflow_version == engine.workflows[WORKFLOW_ID].version
