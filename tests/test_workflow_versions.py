"""A workflow's version: a hash of its declaration, recorded on every run it starts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from shared.engine import StepContext, Workflow, run_view
from tests.helpers.engine_support import Harness, Job, Value


class Text(BaseModel):
    text: str


class Documented(BaseModel):
    """A docstring is prose: it does not change what fits."""

    n: int


def _declared(*changes: str) -> Workflow[Job]:
    """`first` -> `second` (-> `third`), altered by the named changes."""
    wf: Workflow[Job] = Workflow(id="test.versioned", input_model=Job, description="versions")

    def body(model: type[BaseModel]) -> Callable[[StepContext[Any]], Any]:
        def step(ctx: StepContext[Any]) -> Any:
            return model.model_validate({"n": 1, "text": "x"})

        step.__annotations__ = {"ctx": StepContext, "return": model}
        return step

    second = "renamed" if "rename" in changes else "second"
    order = [second, "first"] if "reorder" in changes else ["first", second]
    for step_id in order:
        model: type[BaseModel] = Value
        if step_id == second and "output" in changes:
            model = Text
        if step_id == second and "docstring" in changes:
            model = Documented
        if step_id == second and "fan-out" in changes:

            def item(ctx: StepContext[Any], n: int) -> Value:
                return Value(n=n)

            wf.fan_out(step_id, over=lambda ctx: [1])(item)
            continue
        wf.step(step_id)(body(model))
    if "add" in changes:
        wf.step("third")(body(Value))
    return wf


def test_the_same_declaration_has_the_same_version():
    assert _declared().version == _declared().version


def test_each_kind_of_declaration_change_makes_a_new_version():
    base = _declared().version
    changed = {c: _declared(c).version for c in ("rename", "reorder", "output", "fan-out", "add")}

    assert all(version != base for version in changed.values()), changed
    assert len(set(changed.values())) == len(changed)


def test_prose_in_an_output_model_is_not_a_new_version():
    assert _declared("docstring").version == _declared().version


def test_a_run_records_the_version_that_started_it_and_its_view_shows_it():
    engine = Harness()
    workflow = _declared()
    engine.start(workflow)

    run = engine.run()

    assert run.workflow_version == workflow.version
    assert run_view(run, workflow).workflow_version == workflow.version
