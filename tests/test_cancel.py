"""A cancelled run stops before its next step, and its effects never land."""

from __future__ import annotations

from devtools.openai_server import Reply
from tests.helpers.stack import Stack


def test_cancelling_a_queued_run_ends_it_and_its_session(stack: Stack):
    created = stack.create_brainstorm()

    response = stack.post(f"/v1/runs/{created['runId']}/cancel", {})
    stack.deliver_all()

    assert response.status_code == 202
    assert response.get_json()["status"] == "CANCELLED"
    assert stack.run_view(created["runId"])["status"] == "CANCELLED"
    session = stack.get(f"/v1/brainstorm-sessions/{created['sessionId']}").get_json()
    assert session["status"] == "CANCELLED"
    assert stack.llm.requests == []


def test_cancelling_during_a_step_discards_that_steps_work(stack: Stack):
    created = stack.create_brainstorm()

    def cancel_then_answer(request: dict) -> Reply:
        assert stack.post(f"/v1/runs/{created['runId']}/cancel", {}).status_code == 202
        return Reply()

    stack.llm.responder = cancel_then_answer
    deliveries = stack.deliver_all()

    assert [d.status for d in deliveries] == [200]
    run = stack.run_view(created["runId"])
    assert run["status"] == "CANCELLED"
    steps = {s["id"]: s["status"] for s in run["steps"]}
    assert steps["generate-seeds"] != "COMPLETED"
    assert steps["save-seeds"] == "PENDING"
    seeds = stack.services.db.collection(f"brainstormSessions/{created['sessionId']}/seeds")
    assert seeds.get() == []


def test_cancelling_a_finished_run_is_409(stack: Stack):
    created = stack.create_brainstorm()
    stack.deliver_all()

    response = stack.post(f"/v1/runs/{created['runId']}/cancel", {})

    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "conflict"
    assert stack.run_view(created["runId"])["status"] == "COMPLETED"
