"""Starting a programme: one run per version, however many requests race for it."""

from __future__ import annotations

import threading

from tests.helpers.stack import Stack, create_project


def test_concurrent_requests_for_a_projects_programme_start_one_programme_and_one_run(
    stack: Stack,
):
    project_id = create_project(stack)
    answers: list[dict] = []

    def request() -> None:
        answers.append(stack.post(f"/v1/projects/{project_id}/programme", {}).get_json())

    threads = [threading.Thread(target=request) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(answers) == 6
    assert len({a["programmeId"] for a in answers}) == 1
    assert len({a["runId"] for a in answers}) == 1
    assert len(stack.services.db.collection("programmes").get()) == 1
    programme_runs = [
        r
        for r in stack.services.db.collection("runs").get()
        if (r.to_dict() or {})["workflow"] == "programme.generate-from-concept"
    ]
    assert len(programme_runs) == 1
    assert len(stack.published_run_ids()) == 1


def test_a_request_while_generating_joins_it_and_one_after_it_creates_the_next_version(
    stack: Stack,
):
    project_id = create_project(stack)

    first = stack.post(f"/v1/projects/{project_id}/programme", {}).get_json()
    again = stack.post(f"/v1/projects/{project_id}/programme", {}).get_json()
    stack.deliver_all()
    after = stack.post(f"/v1/projects/{project_id}/programme", {}).get_json()

    assert again == first
    assert first["version"] == 1
    assert after["version"] == 2
    assert after["programmeId"] != first["programmeId"]
    assert after["runId"] != first["runId"]
    stack.deliver_all()
    assert stack.get(f"/v1/programmes/{after['programmeId']}").get_json()["status"] == "COMPLETED"
    assert stack.get(f"/v1/programmes/{first['programmeId']}").get_json()["version"] == 1


def test_a_failed_programme_can_be_requested_again(stack: Stack):
    from devtools.openai_server import Reply

    project_id = create_project(stack)
    stack.llm.script(Reply(refusal="no"))
    first = stack.post(f"/v1/projects/{project_id}/programme", {}).get_json()
    stack.deliver_all()
    assert stack.get(f"/v1/programmes/{first['programmeId']}").get_json()["status"] == "FAILED"

    retry = stack.post(f"/v1/projects/{project_id}/programme", {}).get_json()

    assert retry["version"] == 2
    assert retry["status"] == "IN_PROGRESS"


def test_a_missing_or_foreign_project_is_404_and_starts_nothing(stack: Stack):
    project_id = create_project(stack)
    stack.pull(wait=0)

    missing = stack.post("/v1/projects/no-such-project/programme", {})
    foreign = stack.post(f"/v1/projects/{project_id}/programme", {}, tenant="org-b")

    assert missing.status_code == foreign.status_code == 404
    assert foreign.get_json()["error"]["code"] == "not_found"
    assert stack.services.db.collection("programmes").get() == []
    assert stack.pull(wait=0) == []


def test_a_programme_request_with_an_unknown_option_is_422(stack: Stack):
    project_id = create_project(stack)

    response = stack.post(f"/v1/projects/{project_id}/programme", {"days": 3})

    assert response.status_code == 422
    assert response.get_json()["error"]["details"][0]["field"] == "days"
    assert stack.services.db.collection("programmes").get() == []


def test_another_tenants_programme_is_404(stack: Stack):
    project_id = create_project(stack)
    created = stack.post(f"/v1/projects/{project_id}/programme", {}).get_json()
    stack.deliver_all()

    assert stack.get(f"/v1/programmes/{created['programmeId']}", tenant="org-b").status_code == 404
    assert stack.get(f"/v1/programmes/{created['programmeId']}").status_code == 200
