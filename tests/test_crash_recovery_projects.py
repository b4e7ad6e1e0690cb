"""Crashes in the project and programme workflows: every effect once, finished work kept.

The fan-out case is the interesting one: a worker dies after some days of a
programme are checkpointed and while others are still being generated; the
next delivery generates only the missing days.
"""

from __future__ import annotations

import re
import time

import pytest

from devtools.openai_server import Reply
from devtools.samples import WIZARD_ANSWERS
from tests.helpers.faults import CrashingStore, SimulatedCrash
from tests.helpers.stack import Stack, create_project

LEASE = 1.0


@pytest.fixture
def stack_env() -> dict[str, str]:
    # A redelivery acknowledges a live lease at once (no waiting for it):
    # these cases recover through the sweep (the wait: test_stopping_worker.py).
    return {"LEASE_SECONDS": str(LEASE), "LEASE_WAIT_SECONDS": "0"}


def _crash_then_recover(stack: Stack, store: CrashingStore, data: bytes, run_id: str) -> None:
    with pytest.raises(SimulatedCrash):
        stack.push(data, {"runId": run_id})
    stack.use_store(store.inner)
    time.sleep(LEASE + 0.2)
    stack.sweep()
    assert stack.published_run_ids() == [run_id]
    stack.push(data, {"runId": run_id})


@pytest.mark.parametrize(
    ("point", "step", "llm_calls"),
    [
        ("before-commit", "generate-concept", 3),
        ("after-commit", "generate-concept", 2),
        ("before-commit", "save-project", 2),
        ("after-commit", "save-project", 2),
        ("before-commit", "update-session", 2),
    ],
)
def test_project_run_survives_a_crash_with_one_project_document(
    stack: Stack, point: str, step: str, llm_calls: int
):
    real = stack.services.store
    crashing = CrashingStore(real, point=point, step=step)
    stack.use_store(crashing)
    created = stack.post("/v1/project-sessions", WIZARD_ANSWERS).get_json()
    [message] = stack.pull()

    _crash_then_recover(stack, crashing, message.data, created["runId"])

    session = stack.get(f"/v1/project-sessions/{created['sessionId']}").get_json()
    assert session["status"] == "COMPLETED"
    assert len(stack.services.db.collection("projects").get()) == 1
    assert len(stack.llm.requests) == llm_calls


def _day_of(request: dict) -> int | None:
    text = request["messages"][-1]["content"]
    match = re.search(r'"day_number":\s*(\d+)', text)
    return int(match.group(1)) if match else None


# The dead "process" also kills its lease-renewal thread, which pytest reports.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_crash_mid_fan_out_regenerates_only_the_days_not_yet_checkpointed(stack: Stack):
    project_id = create_project(stack, duration_days=7)
    stack.llm.requests.clear()
    # Days 1-3 answer at once, days 4-7 take a while: the crash after the third
    # day's checkpoint finds them still in flight.
    stack.llm.responder = lambda request: Reply(delay=1.0 if (_day_of(request) or 0) > 3 else 0)
    real = stack.services.store
    crashing = CrashingStore(real, point="after-commit", step="generate-day-*", after=3)
    stack.use_store(crashing)
    created = stack.post(f"/v1/projects/{project_id}/programme", {}).get_json()
    [message] = stack.pull()

    with pytest.raises(SimulatedCrash):
        stack.push(message.data, {"runId": created["runId"]})
    done_before = {
        step_id
        for step_id, record in stack.run_doc(created["runId"])["steps"].items()
        if record["status"] == "COMPLETED" and step_id.startswith("generate-day-")
    }
    assert done_before == {"generate-day-1", "generate-day-2", "generate-day-3"}
    calls_before = len(stack.llm.requests)

    stack.use_store(real)
    time.sleep(LEASE + 0.2)
    stack.sweep()
    stack.deliver_all()

    regenerated = sorted(_day_of(r) or 0 for r in stack.llm.requests[calls_before:])
    assert regenerated == [4, 5, 6, 7]
    programme = stack.get(f"/v1/programmes/{created['programmeId']}").get_json()
    assert programme["status"] == "COMPLETED"
    assert [d["dayNumber"] for d in programme["days"]] == [1, 2, 3, 4, 5, 6, 7]
    days = stack.services.db.collection(f"programmes/{created['programmeId']}/days").get()
    assert len(days) == 7


@pytest.mark.parametrize("point", ["before-commit", "after-commit"])
def test_a_crash_around_save_programme_writes_the_days_exactly_once(stack: Stack, point: str):
    project_id = create_project(stack, duration_days=5)
    real = stack.services.store
    crashing = CrashingStore(real, point=point, step="save-programme")
    stack.use_store(crashing)
    created = stack.post(f"/v1/projects/{project_id}/programme", {}).get_json()
    [message] = stack.pull()
    calls_before = len(stack.llm.requests)

    with pytest.raises(SimulatedCrash):
        stack.push(message.data, {"runId": created["runId"]})
    stack.use_store(real)
    time.sleep(LEASE + 0.2)
    stack.push(message.data, {"runId": created["runId"]})

    programme = stack.get(f"/v1/programmes/{created['programmeId']}").get_json()
    assert programme["status"] == "COMPLETED"
    assert len(stack.services.db.collection(f"programmes/{created['programmeId']}/days").get()) == 5
    assert len(stack.llm.requests) - calls_before == 1 + 5  # nothing regenerated
