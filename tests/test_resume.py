"""POST /v1/runs/{runId}/resume: the same run back to the queue, finished work kept."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

import pytest

from devtools.openai_server import Reply
from devtools.samples import WIZARD_ANSWERS
from shared.engine import LoadedRun, RunStore
from tests.helpers.stack import Stack

REDRIVE = 0.5


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {"STEP_MAX_ATTEMPTS": "2", "REDRIVE_AFTER_SECONDS": str(REDRIVE)}


def fail_brainstorm(stack: Stack) -> dict[str, Any]:
    """A brainstorm run that FAILED in generate-seeds after all its attempts."""
    stack.llm.responder = lambda request: Reply(status=500)
    created = stack.create_brainstorm()
    stack.deliver_all()
    assert stack.run_view(created["runId"])["status"] == "FAILED"
    stack.llm.responder = None
    return created


def steps_of(stack: Stack, run_id: str) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in stack.run_view(run_id)["steps"]}


def seeds_of(stack: Stack, session_id: str) -> int:
    return len(stack.services.db.collection(f"brainstormSessions/{session_id}/seeds").get())


def test_a_failed_run_resumes_from_its_failed_step_without_redoing_finished_ones(stack: Stack):
    def concept_fails(request: dict[str, Any]) -> Reply:
        return Reply(status=500) if len(stack.llm.requests) > 1 else Reply()

    stack.llm.responder = concept_fails
    created = stack.post("/v1/project-sessions", WIZARD_ANSWERS).get_json()
    stack.deliver_all()
    failed = steps_of(stack, created["runId"])
    assert failed["extract-dna"]["status"] == "COMPLETED"
    assert failed["generate-concept"]["attempts"] == 2
    assert len(stack.llm.requests) == 3
    stack.llm.responder = None

    response = stack.post(f"/v1/runs/{created['runId']}/resume", {})
    stack.deliver_all()

    assert response.status_code == 202
    assert response.get_json() == {"runId": created["runId"], "status": "QUEUED"}
    assert len(stack.llm.requests) == 4  # generate-concept once more, extract-dna never
    run = stack.run_view(created["runId"])
    assert run["status"] == "COMPLETED"
    steps = {s["id"]: s for s in run["steps"]}
    assert steps["extract-dna"]["attempts"] == 1
    assert steps["generate-concept"]["attempts"] == 1
    assert steps["generate-concept"]["status"] == "COMPLETED"
    session = stack.get(f"/v1/project-sessions/{created['sessionId']}").get_json()
    assert session["status"] == "COMPLETED"


def test_a_resumed_run_is_queued_with_a_fresh_deadline_and_its_session_in_progress(
    stack: Stack,
):
    created = fail_brainstorm(stack)
    before = stack.run_view(created["runId"])

    stack.post(f"/v1/runs/{created['runId']}/resume", {})

    run = stack.run_view(created["runId"])
    assert run["status"] == "QUEUED"
    assert "error" not in run
    assert "finishedAt" not in run
    assert datetime.fromisoformat(run["deadlineAt"]) > datetime.fromisoformat(before["deadlineAt"])
    steps = {s["id"]: s for s in run["steps"]}
    assert steps["generate-seeds"]["attempts"] == 0
    assert "500" in steps["generate-seeds"]["error"]  # why it failed stays readable
    session = stack.get(f"/v1/brainstorm-sessions/{created['sessionId']}").get_json()
    assert session["status"] == "IN_PROGRESS"
    assert "error" not in session or session["error"] is None
    assert stack.published_run_ids() == [created["runId"]]


def test_the_timeline_records_who_resumed_when_and_from_what(stack: Stack):
    created = fail_brainstorm(stack)
    error = stack.run_view(created["runId"])["error"]

    stack.api.post(
        f"/v1/runs/{created['runId']}/resume", headers=stack.token("org-a", user="operator-7")
    )

    [resume] = stack.run_view(created["runId"])["resumes"]
    assert resume["by"] == "operator-7"
    assert resume["previousStatus"] == "FAILED"
    assert resume["previousError"] == error
    assert datetime.fromisoformat(resume["at"]).tzinfo is not None


def test_a_cancelled_run_resumes_and_completes(stack: Stack):
    created = stack.create_brainstorm()
    stack.post(f"/v1/runs/{created['runId']}/cancel", {})
    stack.deliver_all()

    response = stack.post(f"/v1/runs/{created['runId']}/resume", {})
    stack.deliver_all()

    assert response.status_code == 202
    assert stack.run_view(created["runId"])["status"] == "COMPLETED"
    assert seeds_of(stack, created["sessionId"]) == 5


def test_resuming_a_queued_or_completed_run_is_409(stack: Stack):
    created = stack.create_brainstorm()
    queued = stack.post(f"/v1/runs/{created['runId']}/resume", {})
    stack.deliver_all()
    completed = stack.post(f"/v1/runs/{created['runId']}/resume", {})

    assert queued.status_code == 409
    assert completed.status_code == 409
    assert completed.get_json()["error"]["code"] == "conflict"
    assert "COMPLETED" in completed.get_json()["error"]["message"]
    assert stack.run_view(created["runId"])["resumes"] == []


def test_resuming_a_running_run_is_409(stack: Stack):
    created = stack.create_brainstorm()
    answers: list[int] = []

    def resume_mid_step(request: dict[str, Any]) -> Reply:
        answers.append(stack.post(f"/v1/runs/{created['runId']}/resume", {}).status_code)
        return Reply()

    stack.llm.responder = resume_mid_step
    stack.deliver_all()

    assert answers == [409]
    assert stack.run_view(created["runId"])["status"] == "COMPLETED"


def test_another_tenants_run_is_404(stack: Stack):
    created = fail_brainstorm(stack)

    response = stack.post(f"/v1/runs/{created['runId']}/resume", {}, tenant="org-b")

    assert response.status_code == 404
    assert stack.run_view(created["runId"])["status"] == "FAILED"


# -- races ----------------------------------------------------------------------


class LoadBarrier:
    """Holds every `load` until `parties` callers have loaded: they all see the same version."""

    def __init__(self, inner: RunStore, parties: int) -> None:
        self.inner = inner
        self.barrier = threading.Barrier(parties, timeout=10)
        self.armed = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def load(self, run_id: str) -> LoadedRun | None:
        loaded = self.inner.load(run_id)
        if self.armed:
            self.barrier.wait()
            self.armed = False  # later loads (re-reads after a stale write) pass freely
        return loaded


def test_two_racing_resumes_queue_the_run_once(stack: Stack):
    created = fail_brainstorm(stack)
    calls = len(stack.llm.requests)
    barrier = LoadBarrier(stack.services.store, parties=2)
    stack.use_store(barrier)
    answers: list[int] = []

    def resume() -> None:
        answers.append(stack.post(f"/v1/runs/{created['runId']}/resume", {}).status_code)

    threads = [threading.Thread(target=resume) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    stack.use_store(barrier.inner)
    deliveries = stack.deliver_all()

    assert sorted(answers) == [202, 409]
    assert len(deliveries) == 1
    assert len(stack.llm.requests) == calls + 1
    run = stack.run_view(created["runId"])
    assert run["status"] == "COMPLETED"
    assert len(run["resumes"]) == 1
    assert seeds_of(stack, created["sessionId"]) == 5


def test_a_resume_while_the_cancelled_execution_is_still_in_its_step_runs_the_step_once(
    stack: Stack,
):
    created = stack.create_brainstorm()
    answers: list[int] = []

    def cancel_and_resume_mid_step(request: dict[str, Any]) -> Reply:
        if not answers:
            answers.append(stack.post(f"/v1/runs/{created['runId']}/cancel", {}).status_code)
            answers.append(stack.post(f"/v1/runs/{created['runId']}/resume", {}).status_code)
        return Reply()

    stack.llm.responder = cancel_and_resume_mid_step
    deliveries = stack.deliver_all()

    assert answers == [202, 202]
    assert [d.status for d in deliveries] == [200, 200]
    run = stack.run_view(created["runId"])
    assert run["status"] == "COMPLETED"
    steps = {s["id"]: s for s in run["steps"]}
    assert steps["generate-seeds"]["attempts"] == 1  # the cancelled attempt's work was dropped
    assert seeds_of(stack, created["sessionId"]) == 5


def test_a_cancel_after_a_resume_stops_the_run_before_any_step(stack: Stack):
    created = fail_brainstorm(stack)
    calls = len(stack.llm.requests)

    stack.post(f"/v1/runs/{created['runId']}/resume", {})
    cancelled = stack.post(f"/v1/runs/{created['runId']}/cancel", {})
    stack.deliver_all()

    assert cancelled.status_code == 202
    assert stack.run_view(created["runId"])["status"] == "CANCELLED"
    assert len(stack.llm.requests) == calls


def test_a_resume_and_the_sweeps_redrive_delivered_at_once_execute_once(stack: Stack):
    created = fail_brainstorm(stack)
    calls = len(stack.llm.requests)
    stack.post(f"/v1/runs/{created['runId']}/resume", {})
    [resumed] = stack.pull()
    time.sleep(REDRIVE + 0.2)
    stack.sweep()  # the watchdog passed before the worker picked the run up
    [redriven] = stack.pull()
    stack.llm.delay = 0.5  # the first delivery is still in its step when the second arrives
    statuses: list[int] = []

    def deliver(message: Any) -> None:
        statuses.append(stack.push(message.data, dict(message.attributes)).status)

    threads = [threading.Thread(target=deliver, args=(m,)) for m in (resumed, redriven)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert statuses == [200, 200]
    assert len(stack.llm.requests) == calls + 1
    assert stack.run_view(created["runId"])["status"] == "COMPLETED"
    assert seeds_of(stack, created["sessionId"]) == 5
