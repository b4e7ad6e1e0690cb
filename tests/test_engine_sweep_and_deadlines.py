"""Never stuck: the sweep re-drives orphaned runs, and every run ends by its deadline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared.engine import RunStatus
from shared.errors import TransientError
from tests.helpers.engine_support import Harness, Recorder, linear_workflow
from tests.helpers.faults import SimulatedCrash


def test_a_fresh_queued_run_is_left_alone(engine: Harness, recorder: Recorder):
    engine.start(linear_workflow(recorder))
    engine.publisher.published.clear()

    assert engine.sweep().redriven == 0
    assert engine.publisher.published == []


def test_a_run_whose_publish_was_lost_is_republished_once_per_redrive_period(
    engine: Harness, recorder: Recorder
):
    engine.start(linear_workflow(recorder))
    engine.publisher.published.clear()
    engine.clock.advance(engine.settings.redrive_after.total_seconds())

    assert engine.sweep().redriven == 1
    assert engine.sweep().redriven == 0  # its watchdog moved on
    assert engine.publisher.published == ["run-1"]
    assert engine.deliver() == "COMPLETED"


def test_a_run_whose_worker_died_is_redriven_once_its_lease_expired(
    engine: Harness, recorder: Recorder
):
    def crash(ctx: Any) -> None:
        raise SimulatedCrash

    recorder.on["compute"] = crash
    engine.start(linear_workflow(recorder))
    with pytest.raises(SimulatedCrash):
        engine.deliver()
    engine.publisher.published.clear()

    assert engine.sweep().redriven == 0  # the lease is live: the runner may be working
    engine.after_lease()
    assert engine.sweep().redriven == 1
    recorder.on.clear()
    assert engine.deliver() == "COMPLETED"


def test_a_run_past_its_deadline_is_failed_by_the_sweep_with_the_reason(
    engine: Harness, recorder: Recorder
):
    def fail(ctx: Any) -> None:
        raise TransientError("HTTP 503")

    recorder.on["compute"] = fail
    engine.start(linear_workflow(recorder))
    engine.deliver()
    engine.clock.advance(timedelta(minutes=16).total_seconds())

    assert engine.sweep().failed == 1

    run = engine.run()
    assert run.status is RunStatus.FAILED
    assert run.error == "deadline exceeded during step compute; last error: compute: HTTP 503"
    assert engine.subject()["problem"] == run.error


def test_a_delivery_after_the_deadline_fails_the_run_without_running_it(
    engine: Harness, recorder: Recorder
):
    engine.start(linear_workflow(recorder))
    engine.clock.advance(timedelta(minutes=16).total_seconds())

    assert engine.deliver() == "FAILED"

    assert engine.run().error == "deadline exceeded before the run could finish"
    assert recorder.calls == {}


def test_a_step_that_outlives_the_deadline_stops_the_run_before_the_next_step(
    engine: Harness, recorder: Recorder
):
    def slow(ctx: Any) -> None:
        engine.clock.advance(timedelta(minutes=16).total_seconds())

    recorder.on["compute"] = slow
    engine.start(linear_workflow(recorder))

    assert engine.deliver() == "FAILED"

    assert engine.run().error == "deadline exceeded before step save"
    assert recorder.calls["save"] == 0
