"""Cancellation: a conditional update the runner's next commit runs into."""

from __future__ import annotations

from typing import Any

import pytest

from shared.engine import RunStatus
from shared.errors import AlreadyFinished
from tests.helpers.engine_support import Harness, Recorder, linear_workflow


def test_cancelling_during_a_step_discards_that_steps_effects(engine: Harness, recorder: Recorder):
    def cancelled_meanwhile(ctx: Any) -> None:
        engine.cancel(ctx.run_id)

    recorder.on["compute"] = cancelled_meanwhile
    engine.start(linear_workflow(recorder))

    assert engine.deliver() == "CANCELLED"

    run = engine.run()
    assert run.status is RunStatus.CANCELLED
    assert engine.store.read("results/run-1-compute") is None
    assert engine.subject()["state"] == "CANCELLED"
    assert recorder.calls["save"] == 0


def test_a_cancelled_run_is_not_executed_by_a_later_delivery(engine: Harness, recorder: Recorder):
    engine.start(linear_workflow(recorder))
    engine.cancel("run-1")

    assert engine.deliver() == "ALREADY_FINISHED"
    assert recorder.calls == {}


def test_cancelling_a_finished_run_is_refused(engine: Harness, recorder: Recorder):
    engine.start(linear_workflow(recorder))
    engine.deliver()

    with pytest.raises(AlreadyFinished):
        engine.cancel("run-1")
