"""A programme created with `review: true` waits for its planner, on the emulators.

The api, the worker, Firestore and Pub/Sub are the real ones; the engine's
own cases of the same mechanics, in milliseconds, are tests/test_engine_waits.py.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

from shared.engine.testing import FakeClock
from tests.helpers.stack import Stack, create_project

DAYS = 5


def _awaiting_review(stack: Stack, clock: FakeClock | None = None) -> dict[str, Any]:
    """A programme of DAYS days created with review, delivered until its run waits."""
    if clock is not None:
        stack.use_clock(clock)
    project_id = create_project(stack, duration_days=DAYS)
    stack.llm.requests.clear()
    response = stack.post(f"/v1/projects/{project_id}/programme", {"review": True})
    assert response.status_code == 202, response.get_json()
    created: dict[str, Any] = response.get_json()
    stack.deliver_all()
    return created


def _programme(stack: Stack, created: dict[str, Any], tenant: str = "org-a") -> Any:
    return stack.get(f"/v1/programmes/{created['programmeId']}", tenant)


def _signal(stack: Stack, created: dict[str, Any], body: Any, tenant: str = "org-a") -> Any:
    return stack.post(f"/v1/runs/{created['runId']}/signals/review", body, tenant)


def test_a_reviewed_programme_waits_after_its_structure_with_the_structure_readable(
    stack: Stack,
):
    created = _awaiting_review(stack)

    programme = _programme(stack, created).get_json()
    assert programme["status"] == "AWAITING_REVIEW"
    assert [d["day_number"] for d in programme["structure"]["days"]] == [1, 2, 3, 4, 5]
    assert programme["days"] == []
    assert programme["progress"]["currentStep"] == "review"
    assert len(stack.llm.requests) == 1  # the structure only: no day is paid for yet
    run = stack.run_view(created["runId"])
    assert run["status"] == "WAITING"
    assert run["wait"]["signal"] == "review"
    listed = stack.get("/v1/runs?status=WAITING").get_json()["runs"]
    assert [r["runId"] for r in listed] == [created["runId"]]


def test_approving_an_edited_structure_generates_the_days_from_it(stack: Stack):
    created = _awaiting_review(stack)
    structure = _programme(stack, created).get_json()["structure"]
    structure["days"][0]["theme"] = "Street art walk, edited by the planner"

    response = _signal(stack, created, {"decision": "approve", "structure": structure})

    assert response.status_code == 202, response.get_json()
    assert response.get_json()["status"] == "QUEUED"
    stack.deliver_all()
    programme = _programme(stack, created).get_json()
    assert programme["status"] == "COMPLETED"
    assert programme["days"][0]["theme"] == "Street art walk, edited by the planner"
    assert programme["structure"]["days"][0]["theme"] == "Street art walk, edited by the planner"
    assert len(stack.llm.requests) == 1 + DAYS
    day_prompts = [r["messages"][-1]["content"] for r in stack.llm.requests[1:]]
    assert sum("edited by the planner" in p for p in day_prompts) == 1


def test_rejecting_cancels_the_programme_with_no_model_call_after_the_structure(
    stack: Stack,
):
    created = _awaiting_review(stack)

    response = _signal(stack, created, {"decision": "reject"})

    assert response.status_code == 202
    assert response.get_json()["status"] == "CANCELLED"
    stack.deliver_all()
    programme = _programme(stack, created).get_json()
    assert programme["status"] == "CANCELLED"
    assert programme["days"] == []
    assert len(stack.llm.requests) == 1
    assert stack.run_view(created["runId"])["status"] == "CANCELLED"


def test_of_two_racing_approvals_exactly_one_continues_the_run(stack: Stack):
    created = _awaiting_review(stack)
    app = stack.api.application
    barrier = threading.Barrier(2)
    answers: list[int] = []

    def approve() -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(
            f"/v1/runs/{created['runId']}/signals/review",
            json={"decision": "approve"},
            headers=stack.token(),
        )
        answers.append(response.status_code)

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answers) == [202, 409]
    assert stack.published_run_ids() == [created["runId"]]  # published once to continue


def test_a_signal_for_another_tenants_run_is_404_and_changes_nothing(stack: Stack):
    created = _awaiting_review(stack)
    before = stack.run_doc(created["runId"])

    response = _signal(stack, created, {"decision": "approve"}, tenant="org-b")

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert stack.run_doc(created["runId"]) == before


def test_an_edited_structure_out_of_bounds_is_422_and_changes_nothing(stack: Stack):
    created = _awaiting_review(stack)
    structure = _programme(stack, created).get_json()["structure"]
    before = stack.run_doc(created["runId"])

    too_long = {"days": [{**structure["days"][0], "theme": "x" * 201}, *structure["days"][1:]]}
    one_short = {"days": structure["days"][:-1]}
    answers = [
        _signal(stack, created, {"decision": "approve", "structure": s})
        for s in (too_long, one_short)
    ]

    assert [a.status_code for a in answers] == [422, 422]
    assert "theme" in answers[0].get_json()["error"]["message"]
    assert "5 days" in answers[1].get_json()["error"]["message"]
    assert stack.run_doc(created["runId"]) == before


def test_an_unanswered_review_fails_by_the_sweep_with_a_reason_that_says_so(stack: Stack):
    clock = FakeClock()
    created = _awaiting_review(stack, clock)
    clock.advance(timedelta(days=7).total_seconds() + 1)

    stack.sweep()

    programme = _programme(stack, created).get_json()
    assert programme["status"] == "FAILED"
    assert "review timed out" in programme["error"]
    assert "7 days" in programme["error"]
    assert stack.run_view(created["runId"])["status"] == "FAILED"
    assert _signal(stack, created, {"decision": "approve"}).status_code == 409


def test_a_worker_gone_while_the_run_waits_changes_nothing(stack: Stack):
    clock = FakeClock()
    created = _awaiting_review(stack, clock)
    before = stack.run_doc(created["runId"])
    update_time = stack.services.db.collection("runs").document(created["runId"]).get().update_time

    # Past the lease and the re-drive delay (what recovers a dead worker's run),
    # a sweep tick and a redelivery of the run's message: nothing to recover.
    clock.advance(3600)
    stack.sweep()
    message = json.dumps({"type": "run", "runId": created["runId"]}).encode()
    delivery = stack.push(message, {"type": "run", "runId": created["runId"]})

    assert delivery.status < 300
    snapshot = stack.services.db.collection("runs").document(created["runId"]).get()
    assert snapshot.update_time == update_time  # not one write while it waits
    assert stack.run_doc(created["runId"]) == before


def test_a_review_can_arrive_as_a_trigger_event(stack: Stack):
    created = _awaiting_review(stack)
    stack.publish_event(
        {
            "name": "programme.review",
            "id": "review-0001",
            "data": {"programmeId": created["programmeId"], "decision": "approve"},
        },
        tenantId="org-a",
    )

    stack.deliver_events()
    stack.deliver_all()

    assert _programme(stack, created).get_json()["status"] == "COMPLETED"
    assert len(stack.llm.requests) == 1 + DAYS


def test_a_review_event_delivered_again_is_acknowledged_not_rejected(stack: Stack):
    created = _awaiting_review(stack)
    event = {
        "name": "programme.review",
        "id": "review-0002",
        "data": {"programmeId": created["programmeId"], "decision": "reject"},
    }
    stack.publish_event(event, tenantId="org-a")
    [message] = stack.pull_events()
    stack.push_event(message)

    again = stack.push_event(message)

    assert again.status < 300
    rejected = [r for r in stack.results() if r.get("status") == "REJECTED"]
    assert rejected == []  # the run's own end (CANCELLED) only
    assert stack.run_view(created["runId"])["status"] == "CANCELLED"
