"""Memoization: completed steps are replayed from their checkpoints, never run again."""

from __future__ import annotations

from typing import Any

from shared.engine import RunStatus, StepStatus
from shared.engine.testing import RETRY
from shared.errors import TransientError
from tests.helpers.engine_support import Harness, Recorder, linear_workflow


def test_a_run_executes_each_step_once_and_completes_with_its_effects(
    engine: Harness, recorder: Recorder
):
    engine.start(linear_workflow(recorder))

    assert engine.deliver() == "COMPLETED"

    run = engine.run()
    assert run.status is RunStatus.COMPLETED
    assert run.step_order == ["load", "compute", "save"]
    assert all(run.steps[s].status is StepStatus.COMPLETED for s in run.step_order)
    assert recorder.calls == {"load": 1, "compute": 1, "save": 1}
    assert engine.subject() == {"state": "COMPLETED", "runId": "run-1", "value": 2}
    assert run.lease_owner is None
    assert run.watchdog_at is None


def test_a_redelivery_after_a_failure_replays_completed_steps_instead_of_running_them(
    engine: Harness, recorder: Recorder
):
    def fail_once(ctx: Any) -> None:
        if ctx.attempt == 1:
            raise TransientError("try again")

    recorder.on["save"] = fail_once
    engine.start(linear_workflow(recorder))

    assert engine.deliver() == RETRY
    assert engine.deliver() == "COMPLETED"

    assert recorder.calls["compute"] == 1  # its output came from the checkpoint
    assert recorder.calls["save"] == 2
    assert engine.subject()["value"] == 2


def test_a_redelivery_of_a_completed_run_changes_nothing(engine: Harness, recorder: Recorder):
    engine.start(linear_workflow(recorder))
    engine.deliver()
    updates = engine.store.updates

    assert engine.deliver() == "ALREADY_FINISHED"

    assert engine.store.updates == updates
    assert recorder.calls["compute"] == 1


def test_a_pure_steps_record_rides_on_the_next_commit(engine: Harness, recorder: Recorder):
    engine.start(linear_workflow(recorder))

    engine.deliver()

    # claim, compute's checkpoint (with load's record), save's checkpoint + completion
    assert engine.store.updates == 3
    assert engine.run().steps["load"].status is StepStatus.COMPLETED
