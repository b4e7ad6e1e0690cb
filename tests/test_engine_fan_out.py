"""Fan-out: items run concurrently, each checkpointed on its own, each failure recorded."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from shared.engine import EngineSettings, RunStatus, StepStatus
from shared.engine.testing import RETRY
from shared.errors import NonRetriableError, TransientError
from tests.helpers.engine_support import Harness, Recorder, fan_out_workflow
from tests.helpers.faults import SimulatedCrash


def test_every_item_runs_and_the_next_step_sees_all_their_outputs(
    engine: Harness, recorder: Recorder
):
    engine.start(fan_out_workflow(recorder, days=4))

    assert engine.deliver() == "COMPLETED"

    assert engine.subject()["total"] == 1 + 2 + 3 + 4
    assert engine.run().step_order == ["plan", "day-1", "day-2", "day-3", "day-4", "collect"]
    assert all(recorder.calls[f"day-{n}"] == 1 for n in range(1, 5))


def test_items_run_at_the_same_time_up_to_the_parallelism_limit(recorder: Recorder):
    engine = Harness(EngineSettings(max_parallel_steps=2))
    running = 0
    peak = 0
    lock = threading.Lock()
    two_running = threading.Barrier(2, timeout=10)

    def overlap(ctx: Any) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        two_running.wait()  # fails unless two items run at once
        with lock:
            running -= 1

    for n in range(1, 5):
        recorder.on[f"day-{n}"] = overlap
    engine.start(fan_out_workflow(recorder, days=4))

    assert engine.deliver() == "COMPLETED"
    assert peak == 2


def test_a_crash_mid_fan_out_reruns_only_the_items_not_checkpointed(
    engine: Harness, recorder: Recorder
):
    def crash(ctx: Any) -> None:
        raise SimulatedCrash

    recorder.on["day-3"] = crash
    engine.start(fan_out_workflow(recorder, days=4))
    with pytest.raises(SimulatedCrash):
        engine.deliver()
    recorder.on.clear()
    engine.after_lease()

    assert engine.deliver() == "COMPLETED"

    assert [recorder.calls[f"day-{n}"] for n in range(1, 5)] == [1, 1, 2, 1]
    assert engine.run().steps["day-3"].attempts == 2


def test_each_failing_item_keeps_its_own_error(engine: Harness, recorder: Recorder):
    def fail(kind: type[Exception], n: int) -> Any:
        def action(ctx: Any) -> None:
            raise kind(f"day {n} broke")

        return action

    recorder.on["day-2"] = fail(TransientError, 2)
    recorder.on["day-3"] = fail(TransientError, 3)
    engine.start(fan_out_workflow(recorder, days=4))

    assert engine.deliver() == RETRY

    steps = engine.run().steps
    assert (steps["day-2"].status, steps["day-2"].error) == (StepStatus.RETRYING, "day 2 broke")
    assert (steps["day-3"].status, steps["day-3"].error) == (StepStatus.RETRYING, "day 3 broke")
    assert steps["day-1"].status is StepStatus.COMPLETED

    recorder.on["day-3"] = fail(NonRetriableError, 3)
    assert engine.deliver() == "FAILED"

    run = engine.run()
    assert run.status is RunStatus.FAILED
    assert run.error == "day-3: day 3 broke"  # the non-retriable failure decides
    assert run.steps["day-2"].status is StepStatus.FAILED
    assert run.steps["day-2"].error == "day 2 broke"
