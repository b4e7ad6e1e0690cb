"""Sleep steps on the emulators: a short one inside the delivery, a long one woken by the sweep.

The worker, Firestore and Pub/Sub are real; the long sleep runs on a fake
clock so the suite does not wait its 40 s (the engine's own cases are in
tests/test_engine_waits.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from shared.engine import Workflow, registry
from shared.engine.testing import FakeClock
from tests.helpers.engine_support import Job, Recorder, sleep_workflow
from tests.helpers.stack import Stack

SHORT = 0.3  # seconds: below WAIT_IN_PROCESS_SECONDS (10)
LONG = 40.0  # seconds: above it, so the run parks and the sweep wakes it


@pytest.fixture
def sleeper() -> Iterator[tuple[Recorder, dict[float, Workflow[Job]]]]:
    recorder = Recorder()
    workflows: dict[float, Workflow[Job]] = {}
    for seconds in (SHORT, LONG):
        workflow = sleep_workflow(recorder, seconds)
        workflow.id = f"test.sleep-{int(seconds * 1000)}ms"
        registry.register(workflow)
        workflows[seconds] = workflow
    try:
        yield recorder, workflows
    finally:
        for workflow in workflows.values():
            registry.unregister(workflow.id)


def _start(stack: Stack, workflow: Workflow[Job]) -> str:
    run_id = f"run-{workflow.id.rsplit('-', 1)[-1]}"
    stack.services.engine.start(
        workflow,
        Job(),
        run_id=run_id,
        tenant_id="org-a",
        user_id="user-1",
        subject=f"subjects/{run_id}",
    )
    return run_id


def _step_times(stack: Stack, run_id: str, step: str) -> tuple[datetime, datetime]:
    record = stack.run_doc(run_id)["steps"][step]
    return record["startedAt"], record["finishedAt"]


def test_a_short_sleep_passes_in_the_same_delivery(
    stack: Stack, sleeper: tuple[Recorder, dict[float, Workflow[Job]]]
):
    _, workflows = sleeper
    run_id = _start(stack, workflows[SHORT])

    deliveries = stack.deliver_all()

    assert len(deliveries) == 1
    assert stack.run_doc(run_id)["status"] == "COMPLETED"
    started, finished = _step_times(stack, run_id, "nap")
    assert finished - started >= timedelta(seconds=SHORT)
    save_started, _ = _step_times(stack, run_id, "save")
    assert save_started >= started + timedelta(seconds=SHORT)


def test_a_long_sleep_parks_and_the_first_sweep_tick_after_its_time_wakes_it(
    stack: Stack, sleeper: tuple[Recorder, dict[float, Workflow[Job]]]
):
    recorder, workflows = sleeper
    clock = FakeClock()
    stack.use_clock(clock)
    run_id = _start(stack, workflows[LONG])
    stack.deliver_all()
    assert stack.run_doc(run_id)["status"] == "WAITING"

    clock.advance(LONG - 1)
    stack.sweep()
    assert stack.run_doc(run_id)["status"] == "WAITING"  # not before its time
    clock.advance(2)
    stack.sweep()  # the first tick after it
    stack.deliver_all()

    assert stack.run_doc(run_id)["status"] == "COMPLETED"
    assert recorder.calls["compute"] == 1
    subject = stack.services.db.document(f"subjects/{run_id}").get().to_dict()
    assert subject is not None
    assert subject["state"] == "COMPLETED"
