"""The watchdog: runs past their deadline fail with a reason, orphaned runs are re-published."""

from __future__ import annotations

from datetime import timedelta

from devtools.openai_server import Reply
from tests.helpers.stack import Stack


class FailingPublisher:
    def publish_run(self, run_id: str, workflow: str) -> None:
        raise ConnectionError("Pub/Sub is unreachable")


def _sweep_at(stack: Stack, delta: timedelta):
    services = stack.services
    return services.engine.sweep(services.now() + delta)


def test_a_run_past_its_deadline_fails_with_the_reason_on_run_and_session(stack: Stack):
    created = stack.create_brainstorm()
    stack.pull()  # the message is lost: nobody will ever run this

    report = _sweep_at(stack, timedelta(hours=2))

    assert report.failed == 1
    run = stack.run_view(created["runId"])
    assert run["status"] == "FAILED"
    assert "deadline exceeded" in run["error"]
    session = stack.get(f"/v1/brainstorm-sessions/{created['sessionId']}").get_json()
    assert session["status"] == "FAILED"
    assert session["error"] == run["error"]


def test_a_failed_publish_still_gets_the_run_executed_via_the_sweep(stack: Stack):
    real = stack.services.publisher
    stack.services.override(publisher=FailingPublisher())
    created = stack.create_brainstorm()  # still 202: the run is durable
    stack.services.override(publisher=real)
    assert stack.pull(wait=0) == []
    assert stack.run_doc(created["runId"])["status"] == "QUEUED"

    report = _sweep_at(stack, timedelta(minutes=3))
    stack.deliver_all()

    assert report.redriven == 1
    session = stack.get(f"/v1/brainstorm-sessions/{created['sessionId']}").get_json()
    assert session["status"] == "COMPLETED"


def test_a_fresh_queued_run_is_left_alone(stack: Stack):
    stack.create_brainstorm()
    stack.pull()

    assert _sweep_at(stack, timedelta(seconds=0)).redriven == 0


def test_a_redriven_run_is_not_republished_on_every_tick(stack: Stack):
    stack.create_brainstorm()
    stack.pull()

    first = _sweep_at(stack, timedelta(minutes=3))
    second = _sweep_at(stack, timedelta(minutes=3, seconds=30))

    assert (first.redriven, second.redriven) == (1, 0)
    assert len(stack.pull()) == 1


def test_a_run_waiting_for_a_pubsub_retry_is_redriven_only_if_the_retry_never_comes(
    stack: Stack,
):
    stack.llm.script(Reply(status=503))
    created = stack.create_brainstorm()
    [message] = stack.pull()
    stack.push(message.data, dict(message.attributes))  # attempt 1 fails, lease released

    early = _sweep_at(stack, timedelta(seconds=30))
    late = _sweep_at(stack, timedelta(minutes=3))

    assert (early.redriven, late.redriven) == (0, 1)
    assert stack.published_run_ids() == [created["runId"]]


def test_the_sweep_tick_through_the_worker_reports_what_it_did(stack: Stack):
    stack.create_brainstorm()
    stack.pull()

    delivery = stack.sweep()

    assert delivery.status == 200
