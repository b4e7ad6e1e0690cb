"""Crash accounting: an attempt whose worker died counts, so a step cannot crash forever."""

from __future__ import annotations

from typing import Any

import pytest

from shared.engine import RunStatus, StepStatus
from tests.helpers.engine_support import Harness, Recorder, linear_workflow
from tests.helpers.faults import SimulatedCrash


def _crash(ctx: Any) -> None:
    raise SimulatedCrash


def test_the_attempt_after_a_crash_is_the_second(engine: Harness, recorder: Recorder):
    recorder.on["compute"] = _crash
    engine.start(linear_workflow(recorder))
    with pytest.raises(SimulatedCrash):
        engine.deliver()
    assert engine.run().steps["compute"].status is StepStatus.RUNNING  # marked before it ran
    recorder.on.clear()
    engine.after_lease()

    assert engine.deliver() == "COMPLETED"

    assert engine.run().steps["compute"].attempts == 2
    assert engine.store.read("results/run-1-compute") == {"attempt": 2}


def test_a_step_that_kills_its_worker_every_time_fails_the_run_after_max_attempts(
    engine: Harness, recorder: Recorder
):
    recorder.on["compute"] = _crash
    engine.start(linear_workflow(recorder))
    for _ in range(engine.settings.step_max_attempts):
        with pytest.raises(SimulatedCrash):
            engine.deliver()
        engine.after_lease()

    assert engine.deliver() == "FAILED"

    run = engine.run()
    assert run.status is RunStatus.FAILED
    assert "compute did not complete after 3 attempts" in (run.error or "")
    assert "stopped without reporting an error" in (run.error or "")
    assert engine.subject()["state"] == "FAILED"
    assert recorder.calls["compute"] == 3
