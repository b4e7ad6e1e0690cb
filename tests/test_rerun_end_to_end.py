"""POST /v1/runs/{runId}/rerun on the emulators: regenerate one programme day, reseed, refusals."""

from __future__ import annotations

from typing import Any

from devtools.samples import WIZARD_ANSWERS
from tests.helpers.stack import Stack, create_project


def _completed_programme(stack: Stack) -> dict[str, Any]:
    project_id = create_project(stack, duration_days=5)
    response = stack.post(f"/v1/projects/{project_id}/programme", {})
    assert response.status_code == 202, response.get_json()
    stack.deliver_all()
    created: dict[str, Any] = response.get_json()
    return created


def _days(stack: Stack, programme_id: str) -> dict[int, dict[str, Any]]:
    programme = stack.get(f"/v1/programmes/{programme_id}").get_json()
    assert programme["status"] == "COMPLETED", programme
    days = {}
    for day in programme["days"]:
        day.pop("programmeId", None)
        day.pop("programme_id", None)
        days[day["dayNumber"]] = day
    return days


def _completed_brainstorm(stack: Stack) -> dict[str, Any]:
    created = stack.create_brainstorm()
    stack.deliver_all()
    return created


def test_a_rerun_of_a_programme_from_one_day_calls_the_model_once_and_keeps_the_other_days(
    stack: Stack,
):
    source = _completed_programme(stack)
    stack.llm.requests.clear()

    response = stack.post(f"/v1/runs/{source['runId']}/rerun", {"fromStep": "generate-day-3"})
    assert response.status_code == 202, response.get_json()
    rerun = response.get_json()
    stack.deliver_all()

    assert len(stack.llm.requests) == 1
    assert rerun["rerunOf"] == source["runId"]
    assert rerun["version"] == 2
    assert response.headers["Location"] == f"/v1/programmes/{rerun['subjectId']}"
    old, new = _days(stack, source["programmeId"]), _days(stack, rerun["subjectId"])
    assert sorted(new) == sorted(old) == [1, 2, 3, 4, 5]
    assert all(new[n] == old[n] for n in (1, 2, 4, 5))
    view = stack.run_view(rerun["runId"])
    assert view["status"] == "COMPLETED"
    assert view["rerunOf"] == source["runId"]
    assert view["rerunFrom"] == "generate-day-3"
    reused = {s["id"] for s in view["steps"] if s.get("reusedFrom") == source["runId"]}
    assert reused == {"load-project", "generate-daily-structure", "review"} | {
        f"generate-day-{n}" for n in (1, 2, 4, 5)
    }
    assert stack.run_view(source["runId"])["reruns"] == [rerun["runId"]]
    programme = stack.get(f"/v1/programmes/{rerun['subjectId']}").get_json()
    assert programme["rerunOf"] == source["programmeId"]


def test_a_rerun_of_a_brainstorm_with_another_temperature_keeps_the_old_seeds(stack: Stack):
    source = _completed_brainstorm(stack)
    old_seeds = stack.get(f"/v1/brainstorm-sessions/{source['sessionId']}").get_json()["seeds"]
    stack.llm.requests.clear()

    response = stack.post(
        f"/v1/runs/{source['runId']}/rerun",
        {"fromStep": "generate-seeds", "input": {"creativityTemp": 0.2}},
    )
    assert response.status_code == 202, response.get_json()
    stack.deliver_all()

    assert [r["temperature"] for r in stack.llm.requests] == [0.2]
    session_id = response.get_json()["subjectId"]
    assert session_id != source["sessionId"]
    new = stack.get(f"/v1/brainstorm-sessions/{session_id}").get_json()
    assert new["status"] == "COMPLETED"
    assert new["rerunOf"] == source["sessionId"]
    assert len(new["seeds"]) == 5
    again = stack.get(f"/v1/brainstorm-sessions/{source['sessionId']}").get_json()["seeds"]
    assert again == old_seeds


def test_a_rerun_of_a_project_session_makes_a_new_project_and_keeps_the_old_one(stack: Stack):
    response = stack.post("/v1/project-sessions", WIZARD_ANSWERS)
    assert response.status_code == 202, response.get_json()
    stack.deliver_all()
    source = response.get_json()
    old = stack.get(f"/v1/project-sessions/{source['sessionId']}").get_json()
    assert old["status"] == "COMPLETED", old
    stack.llm.requests.clear()

    response = stack.post(f"/v1/runs/{source['runId']}/rerun", {"fromStep": "generate-concept"})
    assert response.status_code == 202, response.get_json()
    stack.deliver_all()

    assert len(stack.llm.requests) == 1  # the concept; the DNA is reused
    new = stack.get(f"/v1/project-sessions/{response.get_json()['subjectId']}").get_json()
    assert new["status"] == "COMPLETED", new
    assert new["rerunOf"] == source["sessionId"]
    assert new["projectId"] != old["projectId"]
    again = stack.get(f"/v1/project-sessions/{source['sessionId']}").get_json()
    assert again["projectId"] == old["projectId"]
    assert stack.get(f"/v1/projects/{old['projectId']}").status_code == 200


def test_a_rerun_overriding_an_input_a_reused_step_consumed_is_422_naming_it(stack: Stack):
    source = _completed_brainstorm(stack)

    response = stack.post(
        f"/v1/runs/{source['runId']}/rerun",
        {"fromStep": "save-seeds", "input": {"creativityTemp": 0.2}},
    )

    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_input"
    assert "creativityTemp (read by generate-seeds)" in error["message"]
    assert stack.published_run_ids(wait=0) == []


def test_a_rerun_of_another_tenants_run_is_404(stack: Stack):
    source = stack.create_brainstorm()

    response = stack.post(
        f"/v1/runs/{source['runId']}/rerun", {"fromStep": "generate-seeds"}, tenant="org-b"
    )

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_a_rerun_of_a_run_that_has_not_finished_is_409(stack: Stack):
    source = stack.create_brainstorm()  # QUEUED: nothing delivered it yet

    response = stack.post(f"/v1/runs/{source['runId']}/rerun", {"fromStep": "generate-seeds"})

    assert response.status_code == 409
    assert "QUEUED" in response.get_json()["error"]["message"]
    assert stack.run_view(source["runId"])["reruns"] == []


def test_a_rerun_retried_with_its_idempotency_key_answers_the_first_rerun(stack: Stack):
    source = _completed_brainstorm(stack)
    path = f"/v1/runs/{source['runId']}/rerun"

    first = stack.post(path, {"fromStep": "generate-seeds"}, **{"Idempotency-Key": "regen-1"})
    again = stack.post(path, {"fromStep": "generate-seeds"}, **{"Idempotency-Key": "regen-1"})

    assert first.status_code == again.status_code == 202
    assert again.get_json()["runId"] == first.get_json()["runId"]
    assert again.get_json()["subjectId"] == first.get_json()["subjectId"]
    assert stack.run_view(source["runId"])["reruns"] == [first.get_json()["runId"]]


def test_the_run_list_shows_each_runs_version_and_what_it_reran(stack: Stack):
    source = _completed_brainstorm(stack)
    rerun = stack.post(f"/v1/runs/{source['runId']}/rerun", {"fromStep": "generate-seeds"})
    assert rerun.status_code == 202, rerun.get_json()

    listed = stack.get("/v1/runs?workflow=brainstorm.generate-seeds").get_json()["runs"]

    by_id = {r["runId"]: r for r in listed}
    version = stack.run_view(source["runId"])["workflowVersion"]
    assert by_id[rerun.get_json()["runId"]]["rerunOf"] == source["runId"]
    assert by_id[source["runId"]]["workflowVersion"] == version
