"""What a step read and returned, readable without Firestore access (the console's step panels).

A step's record names the earlier steps whose outputs it read (its input
besides the run's), on the in-memory store; `GET /v1/runs/{runId}/outputs`
gives the run's input and each step's committed output, on the emulators.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared.engine.testing import EngineHarness
from shared.models import paths
from shared.models.brainstorm import BrainstormInput
from shared.workflows.brainstorm import brainstorm
from tests.helpers.stack import Stack

CREATED = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)


def test_each_step_records_the_earlier_outputs_it_read():
    harness = EngineHarness()
    harness.start(
        brainstorm,
        BrainstormInput(session_id="session-1"),
        documents={
            paths.brainstorm_session("session-1"): {
                "id": "session-1",
                "prompt": "youth exchanges about climate",
                "creativityTemp": 0.0,
                "seedCount": 5,
                "tenantId": "org-a",
                "userId": "user-1",
                "generationStatus": "IN_PROGRESS",
                "runId": "run-1",
                "createdAt": CREATED,
                "updatedAt": CREATED,
            }
        },
    )
    finished = harness.run_to_end()

    reads = {step_id: record.reads for step_id, record in finished.steps.items()}
    assert reads == {
        "load-session": [],
        "generate-seeds": ["load-session"],
        "save-seeds": ["generate-seeds"],
        "update-session": ["generate-seeds"],
    }


def test_the_outputs_route_gives_each_steps_committed_output_and_reads(stack: Stack):
    created = stack.create_brainstorm(seedCount=5)
    stack.deliver_all()

    answer = stack.get(f"/v1/runs/{created['runId']}/outputs")

    assert answer.status_code == 200
    body = answer.get_json()
    assert body["runId"] == created["runId"]
    assert body["input"] == stack.run_doc(created["runId"])["input"]
    steps = {s["id"]: s for s in body["steps"]}
    assert list(steps) == ["load-session", "generate-seeds", "save-seeds", "update-session"]
    stored = stack.run_doc(created["runId"])["steps"]["generate-seeds"]["output"]
    assert steps["generate-seeds"]["outputBytes"] == len(stored.encode())
    assert len(steps["generate-seeds"]["output"]["seeds"]) == 5
    assert steps["save-seeds"]["reads"] == ["generate-seeds"]
    # Another tenant's run is not found, exactly like a missing one.
    other = stack.get(f"/v1/runs/{created['runId']}/outputs", tenant="org-b")
    assert other.status_code == 404
    assert other.get_json()["error"]["code"] == "not_found"
