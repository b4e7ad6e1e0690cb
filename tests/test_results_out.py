"""Every terminal transition is published on the results topic, at least once, even if lost."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devtools.openai_server import Reply
from shared.engine import RunStatus
from tests.helpers.runs_support import seed_run
from tests.helpers.stack import Stack

GRACE = 3.0


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {"STEP_MAX_ATTEMPTS": "1", "REDRIVE_AFTER_SECONDS": str(GRACE)}


class LosingPublisher:
    """Results publisher whose publishes never arrive (Pub/Sub down)."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def publish_result(self, result: Any) -> None:
        raise self.error


def lose_results(stack: Stack, error: BaseException) -> Any:
    """Results published from now on are lost; the store and runner are rebuilt on it."""
    real = stack.services.results_publisher
    stack.services.override(results_publisher=LosingPublisher(error))
    return real


def restore_results(stack: Stack, real: Any) -> None:
    stack.services.override(results_publisher=real)


def test_a_completed_run_publishes_its_result_once(stack: Stack):
    created = stack.create_brainstorm()
    stack.deliver_all()

    [result] = stack.results()

    assert result["runId"] == created["runId"]
    assert result["status"] == "COMPLETED"
    assert result["workflow"] == "brainstorm.generate-seeds"
    assert result["tenant"] == "org-a"
    assert result["subject"] == f"brainstormSessions/{created['sessionId']}"
    assert "error" not in result
    assert set(result["usage"]) == {"promptTokens", "completionTokens", "totalTokens", "costUsd"}
    assert stack.run_doc(created["runId"])["resultPending"] is False


def test_a_failed_run_publishes_its_error(stack: Stack):
    stack.llm.responder = lambda request: Reply(status=400)
    created = stack.create_brainstorm()
    stack.deliver_all()

    [result] = stack.results()

    assert result["status"] == "FAILED"
    assert result["error"] == stack.run_view(created["runId"])["error"]


def test_cancel_and_dead_letter_publish_too(stack: Stack):
    cancelled = stack.create_brainstorm()
    dead = stack.create_brainstorm()
    stack.pull()

    stack.post(f"/v1/runs/{cancelled['runId']}/cancel", {})
    settings = stack.services.settings
    stack.push(
        b'{"type": "run", "runId": "' + dead["runId"].encode() + b'"}',
        {"runId": dead["runId"], "CloudPubSubDeadLetterSourceDeliveryCount": "5"},
        topic=settings.dead_letter_topic,
    )

    results = {r["runId"]: r["status"] for r in stack.results()}
    assert results == {cancelled["runId"]: "CANCELLED", dead["runId"]: "FAILED"}


def test_a_run_the_sweep_fails_past_its_deadline_publishes(stack: Stack):
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    run = seed_run(
        stack.services.store,
        status=RunStatus.RUNNING,
        created_at=long_ago,
        watchdog_at=long_ago + timedelta(minutes=1),
    )

    stack.sweep()

    [result] = stack.results()
    assert result["runId"] == run.run_id
    assert result["status"] == "FAILED"
    assert result["error"].startswith("deadline exceeded")


def test_bulk_cancel_publishes_each_runs_result(stack: Stack):
    created = [stack.create_brainstorm() for _ in range(3)]
    started = stack.post("/v1/runs/bulk-cancel", {}).get_json()
    messages = stack.pull(max_messages=20)
    [operation] = [m for m in messages if m.attributes["runId"] == started["operationId"]]

    stack.push(operation.data, dict(operation.attributes))

    results = {r["runId"]: r["status"] for r in stack.results()}
    assert results == {
        **{c["runId"]: "CANCELLED" for c in created},
        started["operationId"]: "COMPLETED",
    }


@pytest.mark.parametrize(
    "loss",
    [RuntimeError("Pub/Sub unavailable"), SystemExit("the process died after the commit")],
    ids=["publish-failed", "process-died"],
)
def test_a_lost_result_is_published_by_the_sweep(stack: Stack, loss: BaseException):
    created = stack.create_brainstorm()
    [message] = stack.pull()
    real = lose_results(stack, loss)
    with contextlib.suppress(SystemExit):
        stack.push(message.data, dict(message.attributes))
    assert stack.run_doc(created["runId"])["status"] == "COMPLETED"
    assert stack.run_doc(created["runId"])["resultPending"] is True
    restore_results(stack, real)

    stack.sweep()  # too early: the transition may still be publishing
    early = stack.results(wait=0)
    time.sleep(GRACE)
    stack.sweep()
    late = stack.results()

    assert early == []
    assert [r["runId"] for r in late] == [created["runId"]]
    assert stack.run_doc(created["runId"])["resultPending"] is False
    stack.sweep()
    assert stack.results(wait=0) == []
