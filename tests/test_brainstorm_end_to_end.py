"""A brainstorm session goes from POST to COMPLETED through the real api, Pub/Sub and worker."""

from __future__ import annotations

from tests.helpers.stack import Stack


def test_created_session_completes_with_the_requested_number_of_distinct_seeds(stack: Stack):
    created = stack.create_brainstorm(seedCount=7)
    assert created["status"] == "IN_PROGRESS"

    deliveries = stack.deliver_all()

    assert [d.status for d in deliveries] == [200]
    session = stack.get(f"/v1/brainstorm-sessions/{created['sessionId']}").get_json()
    assert session["status"] == "COMPLETED"
    assert len(session["seeds"]) == 7
    assert len({s["id"] for s in session["seeds"]}) == 7
    assert len({s["title"] for s in session["seeds"]}) == 7
    assert session["aiModel"] == "test-model"
    assert session["progress"] == {"completedSteps": 4, "totalSteps": 4}  # no currentStep: done
    for seed in session["seeds"]:
        assert 5 <= len(seed["title"]) <= 200
        assert 50 <= len(seed["description"]) <= 2000
        assert 0 <= seed["approvalLikelihood"] <= 1
        assert seed["isSaved"] is False
        assert seed["isDismissed"] is False


def test_run_timeline_lists_every_step_in_order_with_durations(stack: Stack):
    created = stack.create_brainstorm()
    stack.deliver_all()

    run = stack.run_view(created["runId"])

    assert run["status"] == "COMPLETED"
    assert run["workflow"] == "brainstorm.generate-seeds"
    assert [s["id"] for s in run["steps"]] == [
        "load-session",
        "generate-seeds",
        "save-seeds",
        "update-session",
    ]
    for step in run["steps"]:
        assert step["status"] == "COMPLETED"
        assert step["attempts"] == 1
        assert step["durationMs"] >= 0
        assert step["startedAt"] <= step["finishedAt"]
    assert run["startedAt"] <= run["finishedAt"]
    assert run["deliveries"] == 1
