"""The worker takes real CloudEvents, structured and binary, through functions-framework.

Also what Pub/Sub pushes besides run events: the sweep tick, dead-lettered
messages, and messages that cannot be decoded (acknowledged, not retried).
"""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent

from tests.helpers.stack import Stack

PUBSUB_TYPE = "google.cloud.pubsub.topic.v1.messagePublished"


def _event(stack: Stack, data: bytes, attributes: dict[str, str], topic: str | None = None):
    settings = stack.services.settings
    topic = topic or settings.events_topic
    source = f"//pubsub.googleapis.com/projects/{settings.project}/topics/{topic}"
    return CloudEvent(
        {"type": PUBSUB_TYPE, "source": source, "id": uuid.uuid4().hex},
        {
            "message": {
                "data": base64.b64encode(data).decode(),
                "attributes": attributes,
                "messageId": uuid.uuid4().hex,
            },
            "subscription": f"projects/{settings.project}/subscriptions/worker",
        },
    )


@pytest.mark.parametrize("mode", ["structured", "binary"])
def test_a_run_event_in_either_cloudevent_mode_completes_the_run(stack: Stack, mode: str):
    created = stack.create_brainstorm()
    [message] = stack.pull()
    event = _event(stack, message.data, dict(message.attributes))
    headers, body = to_structured(event) if mode == "structured" else to_binary(event)

    response = stack.worker.post("/", headers=headers, data=body)

    assert response.status_code == 200
    assert stack.run_view(created["runId"])["status"] == "COMPLETED"
    if mode == "binary":
        assert headers["ce-type"] == PUBSUB_TYPE


def test_a_step_that_must_be_retried_answers_500_so_pubsub_redelivers(stack: Stack):
    from devtools.openai_server import Reply

    stack.llm.script(Reply(status=503))
    created = stack.create_brainstorm()
    [message] = stack.pull()
    headers, body = to_structured(_event(stack, message.data, dict(message.attributes)))

    response = stack.worker.post("/", headers=headers, data=body)

    assert response.status_code == 500
    steps = {s["id"]: s for s in stack.run_view(created["runId"])["steps"]}
    assert steps["generate-seeds"]["status"] == "RETRYING"
    assert steps["generate-seeds"]["attempts"] == 1


def test_a_dead_lettered_run_is_marked_failed_with_a_readable_reason(stack: Stack):
    from devtools.openai_server import Reply

    stack.llm.script(Reply(status=503))
    created = stack.create_brainstorm()
    [message] = stack.pull()
    stack.push(message.data, dict(message.attributes))  # attempt fails, lease released
    dead = _event(
        stack,
        message.data,
        {**message.attributes, "CloudPubSubDeadLetterSourceDeliveryCount": "15"},
        topic=stack.services.settings.dead_letter_topic,
    )
    headers, body = to_structured(dead)

    response = stack.worker.post("/", headers=headers, data=body)

    assert response.status_code == 200
    session = stack.get(f"/v1/brainstorm-sessions/{created['sessionId']}").get_json()
    assert session["status"] == "FAILED"
    assert "dead-lettered" in session["error"]
    assert "503" in session["error"]
    assert stack.run_view(created["runId"])["status"] == "FAILED"


@pytest.mark.parametrize(
    "data",
    [b"not json", b'{"type": "run"}', b'{"type": "unknown-kind"}', b"[]"],
    ids=["not-json", "no-run-id", "unknown-type", "array"],
)
def test_an_undecodable_message_is_acknowledged_not_retried(stack: Stack, data: bytes):
    headers, body = to_structured(_event(stack, data, {}))

    response = stack.worker.post("/", headers=headers, data=body)

    assert response.status_code == 200


@pytest.mark.parametrize("run_id", ["__x__", "..", "a/b", "x" * 200, "run\n1"])
@pytest.mark.parametrize("dead_lettered", [False, True], ids=["event", "dead-letter"])
def test_a_run_id_firestore_would_reject_is_acknowledged_and_dropped(
    stack: Stack, run_id: str, dead_lettered: bool
):
    data = json.dumps({"type": "run", "runId": run_id}).encode()
    topic = stack.services.settings.dead_letter_topic if dead_lettered else None

    delivery = stack.push(data, topic=topic)

    assert delivery.status == 200, delivery.body


def test_a_run_event_for_an_unknown_run_is_acknowledged(stack: Stack):
    data = json.dumps({"type": "run", "runId": "no-such-run"}).encode()
    headers, body = to_binary(_event(stack, data, {}))

    assert stack.worker.post("/", headers=headers, data=body).status_code == 200
