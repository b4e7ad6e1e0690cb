"""The events topic's wire format, and what a Pub/Sub push delivers to the worker.

`RunMessage` is shared by the topic's publisher (an adapter) and the worker.
`Delivery.parse` validates everything the worker reads from one push: the
envelope functions-framework hands over, the message's attributes, its
data and the topic it came from. A delivery that fails any of it can never
succeed, so the worker logs what was wrong and acknowledges it
(`MalformedDelivery`), rather than answering 500 and having Pub/Sub bring
it back for as long as it keeps the message.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from shared.models import paths
from shared.tracing import TRACEPARENT, TraceContext, parse_traceparent

# Set by Pub/Sub on a message it dead-letters: how many times the source
# subscription delivered it.
DEAD_LETTER_COUNT_ATTRIBUTE = "CloudPubSubDeadLetterSourceDeliveryCount"

# Pub/Sub's own limits on a message: 100 attributes, keys of at most 256
# bytes, values of at most 1024 bytes. A run event's data is a few dozen
# bytes; 64 kB leaves room for any message this worker is meant to receive.
MAX_ATTRIBUTES = 100
MAX_DATA_CHARACTERS = 65_536
# "//pubsub.googleapis.com/projects/<project>/topics/<topic>", as
# functions-framework builds it from the push endpoint's path.
_SOURCE_TOPIC = re.compile(r"/topics/([A-Za-z][\w.~+%-]{2,254})$")


class MalformedDelivery(ValueError):
    """A push that can never be processed; `problem` says which field and why, for the log."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


class RunMessage(BaseModel):
    """Body of a message on the events topic: a run to execute, or the sweep tick."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    type: Literal["run", "sweep"] = "run"
    run_id: str | None = Field(default=None, alias="runId")


class PushedMessage(BaseModel):
    """`message` of a push: Pub/Sub's fields, as the worker reads them."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", strict=True)

    data: Annotated[str, StringConstraints(max_length=MAX_DATA_CHARACTERS)] = ""
    attributes: dict[
        Annotated[str, StringConstraints(min_length=1, max_length=256)],
        Annotated[str, StringConstraints(max_length=1024)],
    ] = Field(default_factory=dict, max_length=MAX_ATTRIBUTES)
    message_id: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, alias="messageId"
    )


class PushEnvelope(BaseModel):
    """The body a push subscription posts (functions-framework passes it as the event's data)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    message: PushedMessage
    subscription: Annotated[str, StringConstraints(max_length=500)] | None = None


class DeliveryAttributes(BaseModel):
    """The attributes the worker acts on; any other attribute is left alone."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", strict=True)

    # A whole number of deliveries: "lots", "-1e999" or "1.5" can never be one.
    dead_letter_count: Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,8}$")] | None = (
        Field(default=None, alias=DEAD_LETTER_COUNT_ATTRIBUTE)
    )


class Delivery(BaseModel):
    """One push, validated: the topic it came from, its message and the attributes read."""

    topic: str
    message_id: str | None
    message: RunMessage
    dead_letter_count: int | None
    # The publisher's trace context (attribute `traceparent`); an invalid one
    # is ignored, never a reason to drop the message.
    trace: TraceContext | None = None

    @classmethod
    def parse(cls, source: object, envelope: object) -> Self:
        """The delivery, or `MalformedDelivery` naming the first field that is wrong."""
        if not isinstance(source, str) or len(source) > 1000:
            raise MalformedDelivery("source: not a Pub/Sub topic")
        topic = topic_of(source)
        try:
            pushed = PushEnvelope.model_validate(envelope).message
        except ValidationError as exc:
            raise MalformedDelivery(first_problem(exc)) from None
        try:
            attributes = DeliveryAttributes.model_validate(pushed.attributes)
        except ValidationError as exc:
            raise MalformedDelivery(first_problem(exc, "attributes")) from None
        message = _run_message(pushed.data)
        if message.type == "run" and (
            message.run_id is None or not paths.is_document_id(message.run_id)
        ):
            # Firestore rejects ids such as "__x__" or "a/b" with an error,
            # which would fail this delivery (and its dead letter) forever.
            raise MalformedDelivery("data.runId: a run message needs a valid run id")
        count = attributes.dead_letter_count
        return cls(
            topic=topic,
            message_id=pushed.message_id,
            message=message,
            dead_letter_count=None if count is None else int(count),
            trace=parse_traceparent(pushed.attributes.get(TRACEPARENT)),
        )


def topic_of(source: object) -> str:
    """The topic named by the event's source; "" when it names none (a push to "/")."""
    match = _SOURCE_TOPIC.search(source[-1000:]) if isinstance(source, str) else None
    return match[1] if match else ""


def _run_message(data: str) -> RunMessage:
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedDelivery("message.data: not base64") from None
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, RecursionError):  # JSON or UTF-8 decoding; nesting too deep
        raise MalformedDelivery("message.data: not JSON") from None
    if not isinstance(body, dict):
        raise MalformedDelivery("message.data: not a JSON object")
    try:
        return RunMessage.model_validate(body)
    except ValidationError as exc:
        raise MalformedDelivery(first_problem(exc, "data")) from None


def first_problem(exc: ValidationError, prefix: str = "") -> str:
    """Where and what, without the offending value (it is the sender's, and may be large)."""
    errors = exc.errors(include_url=False, include_input=False)
    if not errors:
        return "invalid"
    first = errors[0]
    where = ".".join(str(part) for part in (prefix, *first.get("loc", ())) if part != "")
    more = len(errors) - 1
    suffix = f" (and {more} more)" if more else ""
    return f"{where}: {first.get('msg', 'invalid')}{suffix}"
