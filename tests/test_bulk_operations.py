"""Bulk cancel and resume: a durable `ops.*` run acts on every matching run, exactly once."""

from __future__ import annotations

from typing import Any

import pytest

from devtools.openai_server import Reply
from devtools.samples import WIZARD_ANSWERS
from shared.engine import RunStatus
from shared.workflows.ops import PAGE_SIZE
from tests.helpers.faults import CrashingStore, SimulatedCrash
from tests.helpers.runs_support import seed_series
from tests.helpers.stack import Stack


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {"STEP_MAX_ATTEMPTS": "2"}


def failed_brainstorms(stack: Stack, count: int) -> list[dict[str, Any]]:
    stack.llm.responder = lambda request: Reply(status=500)
    created = [stack.create_brainstorm() for _ in range(count)]
    stack.deliver_all(rounds=10 * count)
    stack.llm.responder = None
    assert {stack.run_view(c["runId"])["status"] for c in created} == {"FAILED"}
    return created


def run_operation_first(stack: Stack, operation_id: str) -> None:
    """Deliver the operation's run before the runs it acts on, then everything else."""
    messages = stack.pull(max_messages=100)
    mine = [m for m in messages if m.attributes.get("runId") == operation_id]
    others = [m for m in messages if m.attributes.get("runId") != operation_id]
    for message in mine + others:
        stack.push(message.data, dict(message.attributes))
    stack.deliver_all(rounds=40)


def operation(stack: Stack, operation_id: str, tenant: str = "org-a") -> dict[str, Any]:
    response = stack.get(f"/v1/operations/{operation_id}", tenant)
    assert response.status_code == 200, response.get_json()
    view: dict[str, Any] = response.get_json()
    return view


def test_bulk_resume_requeues_every_failed_run_and_they_complete(stack: Stack):
    created = failed_brainstorms(stack, 3)

    response = stack.post("/v1/runs/bulk-resume", {"status": ["FAILED"]})
    stack.deliver_all(rounds=40)

    assert response.status_code == 202
    started = response.get_json()
    assert started["matched"] == 3
    for c in created:
        run = stack.run_view(c["runId"])
        assert run["status"] == "COMPLETED"
        assert len(run["resumes"]) == 1
        assert run["resumes"][0]["operationId"] == started["operationId"]
    view = operation(stack, started["operationId"])
    assert view["status"] == "COMPLETED"
    assert (view["selected"], view["succeeded"], view["skipped"]) == (3, 3, 0)
    assert stack.run_view(started["operationId"])["status"] == "COMPLETED"


def test_bulk_cancel_acts_only_on_the_filtered_workflow(stack: Stack):
    brainstorms = [stack.create_brainstorm() for _ in range(3)]
    project = stack.post("/v1/project-sessions", WIZARD_ANSWERS).get_json()

    response = stack.post("/v1/runs/bulk-cancel", {"workflow": "brainstorm.generate-seeds"})
    started = response.get_json()
    run_operation_first(stack, started["operationId"])

    assert response.status_code == 202
    assert started["matched"] == 3
    assert {stack.run_view(b["runId"])["status"] for b in brainstorms} == {"CANCELLED"}
    assert stack.run_view(project["runId"])["status"] == "COMPLETED"
    assert len(stack.llm.requests) == 2  # the project's steps only
    assert operation(stack, started["operationId"])["succeeded"] == 3


def test_many_runs_are_handled_page_by_page(stack: Stack):
    count = 2 * PAGE_SIZE + 17
    seed_series(stack.services.store, count, status=RunStatus.QUEUED)

    started = stack.post("/v1/runs/bulk-cancel", {}).get_json()
    run_operation_first(stack, started["operationId"])

    assert started["matched"] == count
    view = operation(stack, started["operationId"])
    assert (view["status"], view["succeeded"], view["skipped"]) == ("COMPLETED", count, 0)
    steps = [s["id"] for s in stack.run_view(started["operationId"])["steps"]]
    assert steps == ["select-runs", "apply-0", "apply-1", "apply-2", "finish"]
    listed = stack.get("/v1/runs?status=QUEUED").get_json()["runs"]
    assert listed == []


def test_run_ids_narrow_to_the_tenants_matching_runs(stack: Stack):
    completed = stack.create_brainstorm()
    stack.deliver_all()
    stack.llm.responder = lambda request: Reply(status=500)
    failed = [stack.create_brainstorm() for _ in range(2)]
    other = stack.post(
        "/v1/brainstorm-sessions",
        {"prompt": "Another tenant's exchange idea", "seedCount": 5},
        tenant="org-b",
    ).get_json()
    stack.deliver_all()
    stack.llm.responder = None

    ids = [failed[0]["runId"], other["runId"], completed["runId"], "no-such-run"]
    started = stack.post("/v1/runs/bulk-resume", {"runIds": ids}).get_json()
    run_operation_first(stack, started["operationId"])

    assert started["matched"] == 1
    assert stack.run_view(failed[0]["runId"])["status"] == "COMPLETED"
    assert stack.run_view(failed[1]["runId"])["status"] == "FAILED"
    assert stack.run_view(other["runId"], "org-b")["status"] == "FAILED"
    assert stack.run_view(completed["runId"])["resumes"] == []


def test_a_page_redone_after_a_crash_acts_on_each_run_once(stack: Stack):
    created = failed_brainstorms(stack, 3)
    started = stack.post("/v1/runs/bulk-resume", {}).get_json()
    [message] = [m for m in stack.pull() if m.attributes["runId"] == started["operationId"]]
    real = stack.services.store
    stack.use_store(CrashingStore(real, point="before-commit", step="apply-0"))

    with pytest.raises(SimulatedCrash):  # every run of the page resumed, its checkpoint lost
        stack.push(message.data, dict(message.attributes))
    stack.use_store(real)
    # The dead process's lease runs out (as it would after LEASE_SECONDS).
    stack.services.db.document(f"runs/{started['operationId']}").update({"leaseOwner": None})
    stack.push(message.data, dict(message.attributes))

    view = operation(stack, started["operationId"])
    assert (view["succeeded"], view["skipped"]) == (3, 0)
    for c in created:
        assert len(stack.run_view(c["runId"])["resumes"]) == 1
    assert sorted(stack.published_run_ids()) == sorted(c["runId"] for c in created)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/runs/bulk-resume", {"status": ["COMPLETED"]}, "status"),
        ("/v1/runs/bulk-cancel", {"status": ["FAILED"]}, "status"),
        ("/v1/runs/bulk-cancel", {"workflow": "nope.nothing"}, "workflow"),
        ("/v1/runs/bulk-cancel", {"runIds": ["../etc"]}, "runIds"),
        ("/v1/runs/bulk-cancel", {"runIds": []}, "runIds"),
        ("/v1/runs/bulk-cancel", {"colour": "red"}, "colour"),
        ("/v1/runs/bulk-cancel", {"createdAfter": "2026-11-01"}, "createdAfter"),
    ],
)
def test_a_bad_filter_is_422_and_starts_nothing(stack: Stack, path: str, body: Any, field: str):
    response = stack.post(path, body)

    assert response.status_code == 422, response.get_json()
    assert field in [d["field"].split(".")[0] for d in response.get_json()["error"]["details"]]
    assert stack.get("/v1/runs").get_json()["runs"] == []


def test_another_tenants_operation_is_404(stack: Stack):
    started = stack.post("/v1/runs/bulk-cancel", {}).get_json()

    assert stack.get(f"/v1/operations/{started['operationId']}", "org-b").status_code == 404
    assert stack.get(f"/v1/runs/{started['operationId']}", "org-b").status_code == 404
