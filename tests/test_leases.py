"""Leases: renewed while a long step runs; a step that kills its worker every time ends FAILED."""

from __future__ import annotations

import threading
import time

import pytest

from devtools.openai_server import Reply
from tests.faults import CrashingStore, SimulatedCrash
from tests.stack import Stack

LEASE = 2.0


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {"LEASE_SECONDS": str(LEASE), "STEP_MAX_ATTEMPTS": "2"}


def test_a_step_longer_than_the_lease_keeps_it_and_duplicates_stay_out(stack: Stack):
    stack.llm.script(Reply(delay=LEASE * 2.5))
    created = stack.create_brainstorm()
    [message] = stack.pull()
    first = threading.Thread(target=stack.push, args=(message.data, dict(message.attributes)))
    first.start()

    time.sleep(LEASE * 1.75)  # well past the first lease's expiry: only renewal keeps it
    duplicate = stack.push(message.data, dict(message.attributes))
    first.join(timeout=30)

    assert duplicate.status == 200
    assert len(stack.llm.requests) == 1
    run = stack.run_view(created["runId"])
    assert run["status"] == "COMPLETED"
    assert run["deliveries"] == 1


def test_a_step_that_kills_its_worker_every_time_fails_the_run_after_max_attempts(
    stack: Stack,
):
    real = stack.services.store
    created = stack.create_brainstorm()
    [message] = stack.pull()
    for _ in range(2):
        stack.use_store(CrashingStore(real, point="before-commit", step="generate-seeds"))
        with pytest.raises(SimulatedCrash):
            stack.push(message.data, dict(message.attributes))
        time.sleep(LEASE + 0.2)
    stack.use_store(real)

    stack.push(message.data, dict(message.attributes))

    run = stack.run_view(created["runId"])
    assert run["status"] == "FAILED"
    assert "generate-seeds did not complete after 2 attempts" in run["error"]
    session = stack.get(f"/v1/brainstorm-sessions/{created['sessionId']}").get_json()
    assert session["status"] == "FAILED"
    assert len(stack.llm.requests) == 2
