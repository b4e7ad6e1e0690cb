"""A step keeps every attempt (its times, how it ended), and a run its trace id: what a
waterfall of the run is drawn from (the run view, `GET /v1/runs/{id}`)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from shared.engine import StepStatus, registry, run_view
from shared.errors import TransientError
from tests.helpers.engine_support import Harness, Recorder, linear_workflow
from tests.helpers.faults import SimulatedCrash


def _fail_first(ctx: Any) -> None:
    if ctx.attempt == 1:
        raise TransientError("provider hiccup")


def test_a_retried_step_keeps_both_attempts_with_their_times_and_outcomes(
    engine: Harness, recorder: Recorder
):
    recorder.on["compute"] = _fail_first
    engine.start(linear_workflow(recorder))

    engine.deliver()
    engine.clock.advance(5)
    assert engine.deliver() == "COMPLETED"

    history = engine.run().steps["compute"].history
    assert [(h.attempt, h.status, h.error) for h in history] == [
        (1, "RETRYING", "provider hiccup"),
        (2, StepStatus.COMPLETED.value, None),
    ]
    first, second = history
    assert first.started_at is not None
    assert first.finished_at is not None
    assert second.started_at is not None
    assert first.finished_at <= second.started_at


def test_an_attempt_whose_worker_died_is_kept_as_lost(engine: Harness, recorder: Recorder):
    def crash_first(ctx: Any) -> None:
        if ctx.attempt == 1:
            raise SimulatedCrash

    recorder.on["compute"] = crash_first
    engine.start(linear_workflow(recorder))
    with pytest.raises(SimulatedCrash):
        engine.deliver()
    engine.after_lease()

    assert engine.deliver() == "COMPLETED"

    history = engine.run().steps["compute"].history
    assert [(h.attempt, h.status) for h in history] == [(1, "LOST"), (2, "COMPLETED")]
    assert history[0].started_at is not None
    assert history[0].finished_at is None


def test_the_run_view_carries_the_trace_id_and_each_steps_attempts(
    engine: Harness, recorder: Recorder
):
    recorder.on["compute"] = _fail_first
    workflow = linear_workflow(recorder)
    engine.start(workflow)
    engine.run_to_end()

    view = run_view(engine.run(), registry.get(workflow.id) or workflow).model_dump(by_alias=True)

    assert re.fullmatch(r"[0-9a-f]{32}", view["traceId"])
    compute = next(s for s in view["steps"] if s["id"] == "compute")
    assert [a["status"] for a in compute["history"]] == ["RETRYING", "COMPLETED"]
    assert {"startedAt", "finishedAt", "durationMs", "error", "modelCalls"} <= set(
        compute["history"][0]
    )
