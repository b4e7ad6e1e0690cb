"""A delivery with a malformed field or attribute is logged, acknowledged, and changes nothing.

Pub/Sub redelivers anything the worker does not answer 2xx, so a message
that can never be processed (a dead-letter count of "lots", data that is
not base64, attributes that are not a map of strings) used to come back for
as long as Pub/Sub kept it. Each case here is a real CloudEvent posted
through functions-framework, as a push subscription delivers it, naming a
real QUEUED run: the worker answers 2xx, logs which field was wrong, and
neither the run nor the model is touched.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from cloudevents.conversion import to_structured
from cloudevents.http import CloudEvent

from shared.models.messages import DEAD_LETTER_COUNT_ATTRIBUTE
from shared.worker import MALFORMED
from tests.helpers.stack import Stack

PUBSUB_TYPE = "google.cloud.pubsub.topic.v1.messagePublished"

Envelope = dict[str, Any]


def _queued_run(stack: Stack) -> tuple[str, Envelope]:
    """A brainstorm run, QUEUED, and the push envelope of its real run event."""
    created = stack.create_brainstorm()
    [message] = stack.pull()
    envelope = {
        "message": {
            "data": base64.b64encode(message.data).decode(),
            "attributes": dict(message.attributes),
            "messageId": uuid.uuid4().hex,
        },
        "subscription": f"projects/{stack.services.settings.project}/subscriptions/worker",
    }
    run_id: str = created["runId"]
    return run_id, envelope


def _post(stack: Stack, envelope: Any, topic: str) -> int:
    settings = stack.services.settings
    source = f"//pubsub.googleapis.com/projects/{settings.project}/topics/{topic}"
    event = CloudEvent({"type": PUBSUB_TYPE, "source": source, "id": uuid.uuid4().hex}, envelope)
    headers, body = to_structured(event)
    status: int = stack.worker.post("/", headers=headers, data=body).status_code
    return status


def _data(value: Any) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def _with_attribute(value: str) -> Callable[[Envelope], None]:
    def change(envelope: Envelope) -> None:
        envelope["message"]["attributes"][DEAD_LETTER_COUNT_ATTRIBUTE] = value

    return change


def _message(**fields: Any) -> Callable[[Envelope], None]:
    def change(envelope: Envelope) -> None:
        envelope["message"].update(fields)

    return change


# (change to the run's real envelope, the field the log line must name)
MALFORMED_CASES: dict[str, tuple[Callable[[Envelope], None], str]] = {
    "count-lots": (_with_attribute("lots"), f"attributes.{DEAD_LETTER_COUNT_ATTRIBUTE}"),
    "count-minus-1e999": (_with_attribute("-1e999"), f"attributes.{DEAD_LETTER_COUNT_ATTRIBUTE}"),
    "count-negative": (_with_attribute("-1"), f"attributes.{DEAD_LETTER_COUNT_ATTRIBUTE}"),
    "count-zero": (_with_attribute("0"), f"attributes.{DEAD_LETTER_COUNT_ATTRIBUTE}"),
    "count-fraction": (_with_attribute("1.5"), f"attributes.{DEAD_LETTER_COUNT_ATTRIBUTE}"),
    "count-empty": (_with_attribute(""), f"attributes.{DEAD_LETTER_COUNT_ATTRIBUTE}"),
    "count-huge": (_with_attribute("9" * 400), f"attributes.{DEAD_LETTER_COUNT_ATTRIBUTE}"),
    "attributes-a-list": (_message(attributes=["x"]), "message.attributes"),
    "attribute-not-a-string": (_message(attributes={"type": 1}), "message.attributes.type"),
    "too-many-attributes": (
        _message(attributes={f"a{i}": "x" for i in range(101)}),
        "message.attributes",
    ),
    "data-not-a-string": (_message(data=5), "message.data"),
    "data-not-base64": (_message(data="***"), "message.data"),
    "data-not-json": (_message(data=base64.b64encode(b"not json").decode()), "message.data"),
    "data-not-utf8": (_message(data=base64.b64encode(b'{"a": "\xff"}').decode()), "message.data"),
    "data-nested-too-deep": (
        _message(data=base64.b64encode(b"[" * 20_000 + b"]" * 20_000).decode()),
        "message.data",
    ),
    "data-an-array": (_message(data=_data([])), "message.data"),
    "data-unknown-type": (_message(data=_data({"type": "explode"})), "data.type"),
    "data-run-id-a-number": (_message(data=_data({"type": "run", "runId": 7})), "data.runId"),
    "data-run-id-a-path": (_message(data=_data({"type": "run", "runId": "a/b"})), "data.runId"),
    "data-no-run-id": (_message(data=_data({"type": "run"})), "data.runId"),
    "message-id-a-number": (_message(messageId=12), "message.messageId"),
    "message-a-string": (lambda envelope: envelope.update(message="hello"), "message"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_CASES))
@pytest.mark.parametrize("topic_kind", ["events", "dead-letter"])
def test_a_malformed_delivery_is_logged_acknowledged_and_changes_nothing(
    stack: Stack, caplog: pytest.LogCaptureFixture, case: str, topic_kind: str
):
    change, field = MALFORMED_CASES[case]
    run_id, envelope = _queued_run(stack)
    change(envelope)
    settings = stack.services.settings
    topic = settings.events_topic if topic_kind == "events" else settings.dead_letter_topic
    before = stack.services.db.collection("runs").document(run_id).get()
    caplog.clear()

    with caplog.at_level(logging.WARNING, logger="shared.worker"):
        status = _post(stack, envelope, topic)

    assert 200 <= status < 300
    [line] = [r for r in caplog.records if r.getMessage() == MALFORMED]
    assert line.__dict__["problem"].startswith(field), line.__dict__["problem"]
    assert line.__dict__["topic"] == topic
    after = stack.services.db.collection("runs").document(run_id).get()
    assert after.update_time == before.update_time, "the run was touched"
    assert after.to_dict() == before.to_dict()
    assert stack.llm.requests == []


def test_a_well_formed_dead_letter_count_still_fails_the_run(stack: Stack):
    """The control: the attribute the cases above break, when valid, is acted on."""
    run_id, envelope = _queued_run(stack)
    _with_attribute("15")(envelope)

    status = _post(stack, envelope, stack.services.settings.dead_letter_topic)

    assert status == 200
    run = stack.run_view(run_id)
    assert run["status"] == "FAILED"
    assert run["error"].startswith("delivery failed 15 times and was dead-lettered")


def test_a_delivery_whose_run_cannot_be_read_answers_500_to_be_retried(stack: Stack):
    """Real work that fails in a way a redelivery may fix is the one 5xx the worker gives."""
    _, envelope = _queued_run(stack)

    class Unreachable:
        def __getattr__(self, name: str) -> Any:
            def fail(*args: Any, **kwargs: Any) -> Any:
                raise ConnectionError("Firestore is unreachable")

            return fail

    stack.use_store(Unreachable())

    status = _post(stack, envelope, stack.services.settings.events_topic)

    assert status == 500
