"""A run started on version N continues on version N+1 as docs/architecture.md's rules say.

Each test starts run-1 on version 1, stops it mid-run (finish fails once,
after prepare, draft, save and the days completed), deploys a changed
declaration, and delivers the run to its end on it.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.cloud import firestore

from shared.adapters.firestore_store import FirestoreRunStore
from shared.engine import RunStatus, StepContext, Workflow
from shared.engine.testing import RETRY
from shared.errors import TransientError
from tests.helpers.engine_support import Harness, Job, Recorder, Value
from tests.helpers.versions_support import WORKFLOW_ID, Noted, Text, deployed


def _stopped_mid_run(engine: Harness, recorder: Recorder) -> str:
    def fail_first(ctx: Any) -> None:
        if ctx.attempt == 1:
            raise TransientError("the instance stopped")

    recorder.on["finish"] = fail_first
    v1 = deployed(recorder)
    engine.start(v1)
    assert engine.deliver() == RETRY
    assert engine.run().workflow_version == v1.version
    return v1.version


def _deploy(engine: Harness, workflow: Workflow[Any]) -> None:
    engine.workflows[WORKFLOW_ID] = workflow


def test_a_run_keeps_the_version_it_started_on_when_continued_on_a_new_one(
    engine: Harness, recorder: Recorder
):
    started = _stopped_mid_run(engine, recorder)
    v2 = deployed(recorder, add_review=True)
    _deploy(engine, v2)

    finished = engine.run_to_end()

    assert finished.status is RunStatus.COMPLETED
    assert v2.version != started
    assert finished.run.workflow_version == started


def test_a_step_the_new_version_added_runs_and_completed_steps_do_not(
    engine: Harness, recorder: Recorder
):
    _stopped_mid_run(engine, recorder)
    _deploy(engine, deployed(recorder, add_review=True))

    finished = engine.run_to_end()

    assert finished.status is RunStatus.COMPLETED
    assert recorder.calls["review"] == 1
    assert recorder.calls["draft"] == recorder.calls["save"] == recorder.calls["day-1"] == 1


def test_a_step_the_new_version_removed_is_ignored(engine: Harness, recorder: Recorder):
    _stopped_mid_run(engine, recorder)
    _deploy(engine, deployed(recorder, drop_draft=True))

    finished = engine.run_to_end()

    assert finished.status is RunStatus.COMPLETED
    assert recorder.calls["draft"] == 1
    assert recorder.calls["save"] == 1


def test_a_renamed_step_runs_under_its_new_id(engine: Harness, recorder: Recorder):
    _stopped_mid_run(engine, recorder)
    _deploy(engine, deployed(recorder, rename_draft=True))

    finished = engine.run_to_end()

    assert finished.status is RunStatus.COMPLETED
    assert recorder.calls["compose"] == 1
    assert recorder.calls["save"] == 1


def test_a_checkpoint_that_still_fits_a_changed_output_model_is_reused(
    engine: Harness, recorder: Recorder
):
    _stopped_mid_run(engine, recorder)
    _deploy(engine, deployed(recorder, draft_output=Noted))

    finished = engine.run_to_end()

    assert finished.status is RunStatus.COMPLETED
    assert recorder.calls["draft"] == 1


def test_a_step_without_effects_whose_checkpoint_no_longer_fits_runs_again(
    engine: Harness, recorder: Recorder
):
    _stopped_mid_run(engine, recorder)
    _deploy(engine, deployed(recorder, draft_output=Text))

    finished = engine.run_to_end()

    assert finished.status is RunStatus.COMPLETED
    assert recorder.calls["draft"] == 2
    assert finished.output("draft", Text).text == "2"
    assert finished.steps["draft"].attempts == 1
    assert recorder.calls["save"] == 1


def test_a_step_with_effects_whose_checkpoint_no_longer_fits_fails_the_run_saying_so(
    engine: Harness, recorder: Recorder
):
    _stopped_mid_run(engine, recorder)
    _deploy(engine, deployed(recorder, save_output=Text))

    finished = engine.run_to_end()

    assert finished.status is RunStatus.FAILED
    assert (finished.run.error or "").startswith(
        "workflow changed: step save's output no longer fits"
    )
    assert recorder.calls["save"] == 1  # its effects are not repeated
    assert engine.subject()["state"] == "FAILED"


def test_a_fan_out_with_more_items_runs_the_new_items_only(engine: Harness, recorder: Recorder):
    _stopped_mid_run(engine, recorder)
    _deploy(engine, deployed(recorder, days=4))

    finished = engine.run_to_end()

    assert finished.status is RunStatus.COMPLETED
    assert recorder.calls["day-4"] == 1
    assert recorder.calls["day-1"] == recorder.calls["day-3"] == 1
    assert finished.output("finish", Noted).n == 4


def test_a_step_that_became_a_fan_out_runs_its_items(engine: Harness, recorder: Recorder):
    _stopped_mid_run(engine, recorder)
    _deploy(engine, deployed(recorder, draft_fan_out=True))

    finished = engine.run_to_end()

    assert finished.status is RunStatus.COMPLETED
    assert recorder.calls["draft-1"] == recorder.calls["draft-2"] == 1
    assert recorder.calls["save"] == 1


def test_reordered_steps_are_matched_by_id_and_not_run_again(engine: Harness, recorder: Recorder):
    _stopped_mid_run(engine, recorder)
    _deploy(engine, deployed(recorder, save_first=True))

    finished = engine.run_to_end()

    assert finished.status is RunStatus.COMPLETED
    assert recorder.calls["save"] == recorder.calls["draft"] == 1


@pytest.mark.emulators
def test_on_firestore_a_deploy_that_breaks_a_step_with_effects_fails_the_run_once(
    emptied_firestore: firestore.Client, recorder: Recorder
):
    # The whole story through the real store: the version and each step's
    # effects are stored and read back, and the failure is one commit.
    engine = Harness(store=FirestoreRunStore(emptied_firestore))  # type: ignore[arg-type]
    _stopped_mid_run(engine, recorder)
    _deploy(engine, deployed(recorder, save_output=Text))

    assert engine.deliver() == "FAILED"
    assert engine.deliver() == "ALREADY_FINISHED"

    run = engine.run()
    assert run.status is RunStatus.FAILED
    assert (run.error or "").startswith("workflow changed: step save's output no longer fits")
    assert run.steps["save"].effects is True
    assert run.steps["draft"].effects is False
    assert recorder.calls["save"] == 1


def test_a_step_declared_writes_false_that_writes_fails_the_run(engine: Harness):
    # The declaration is what workflows-check judges a deploy by: it must be true.
    wf: Workflow[Job] = Workflow(id="test.liar", input_model=Job, description="writes anyway")

    @wf.step("compute", writes=False)
    def compute(ctx: StepContext[Job]) -> Value:
        ctx.put(f"results/{ctx.run_id}", {"n": 1})
        return Value(n=1)

    engine.start(wf)

    finished = engine.run_to_end()

    assert finished.status is RunStatus.FAILED
    assert "declared writes=False but wrote results/run-1" in (finished.run.error or "")
    assert engine.store.read("results/run-1") is None
