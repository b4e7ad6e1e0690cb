"""The triggers topic's wire format: an event that starts runs, and the result of a refused one.

A backend publishes, as the old app sent to its queue,

    {"name": "brainstorm.generate-seeds", "data": {...}, "id": "evt-123", "ts": 1764979200000}

with `tenantId` (and `userId`) as message attributes or inside `data`. `data`
is the workflow's input exactly as the HTTP create route takes it; it is
validated by that route's own model (`shared.creation`). Other top-level keys
an Inngest client adds (`user`, `v`) are ignored.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from shared.config import TENANT_ID
from shared.models.common import CamelModel
from shared.models.messages import MalformedDelivery, first_problem

# An event's data at most as large as the api's request bodies (64 kB).
MAX_EVENT_BYTES = 65_536
# Pub/Sub's own cap on a message (10 MB): what the push envelope may carry at all.
MAX_MESSAGE_CHARACTERS = 14_000_000
# Visible ASCII, spaces only inside, as an Idempotency-Key: an event id is one.
EVENT_ID = r"^[!-~](?:[ -~]{0,198}[!-~])?$"
# Where a publisher may put the tenant and the user: attributes, or `data`.
TENANT_KEY = "tenantId"
USER_KEY = "userId"
# The user a run is created for when the event names none.
DEFAULT_USER = "trigger"
USER_ID = re.compile(r"[^\x00-\x1f\x7f]{1,200}")

EventName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
EventId = Annotated[str, StringConstraints(pattern=EVENT_ID)]


class TriggerEvent(BaseModel):
    """The data of a message on the triggers topic."""

    model_config = ConfigDict(extra="ignore", strict=True)

    name: EventName
    data: dict[str, Any] = Field(default_factory=dict)
    id: EventId | None = None
    # When the publisher sent it (ms since the epoch); informational.
    ts: int | None = Field(default=None, ge=0)


class PushedTrigger(BaseModel):
    """`message` of a push from the triggers subscription (data up to Pub/Sub's own cap)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", strict=True)

    data: Annotated[str, StringConstraints(max_length=MAX_MESSAGE_CHARACTERS)] = ""
    attributes: dict[
        Annotated[str, StringConstraints(min_length=1, max_length=256)],
        Annotated[str, StringConstraints(max_length=1024)],
    ] = Field(default_factory=dict, max_length=100)
    message_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        alias="messageId"
    )


class TriggerEnvelope(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    message: PushedTrigger


class Rejection(Exception):
    """Why an event starts nothing: `reason` (a short code, the metric's label) and a message."""

    def __init__(self, reason: str, message: str, workflow: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.workflow = workflow


class EventRejected(CamelModel):
    """The results message of an event that started nothing (no `runId`: there is no run)."""

    status: Literal["REJECTED"] = "REJECTED"
    event_id: str
    event_name: str | None = None
    error: str
    # The class of the refusal: unknown_event, invalid_data, invalid_tenant, ...
    reason: str
    tenant: str | None = None
    # Set when one of the workflows the event starts refused it (the others may have started).
    workflow: str | None = None


class Trigger(BaseModel):
    """One push of the triggers topic, read: the event (or why it cannot be one) and who for."""

    message_id: str
    attributes: dict[str, str]
    raw: bytes

    @classmethod
    def parse(cls, envelope: object) -> Self:
        """The push, or `MalformedDelivery` when not even a message id can be read from it."""
        try:
            pushed = TriggerEnvelope.model_validate(envelope).message
        except ValidationError as exc:
            raise MalformedDelivery(first_problem(exc)) from None
        try:
            raw = base64.b64decode(pushed.data, validate=True)
        except (binascii.Error, ValueError):
            raw = b"\xff"  # not base64: read as undecodable data, and rejected as such
        return cls(message_id=pushed.message_id, attributes=pushed.attributes, raw=raw)

    def body(self) -> Any:
        """The data as JSON (None when it is not JSON)."""
        try:
            return json.loads(self.raw)
        except (ValueError, RecursionError):
            return None

    def claimed(self) -> tuple[str, str | None]:
        """(event id, event name) as well as the data tells them, for a rejection's message."""
        body = self.body()
        event_id = name = None
        if isinstance(body, dict):
            given_id, given_name = body.get("id"), body.get("name")
            if isinstance(given_id, str) and re.fullmatch(EVENT_ID, given_id):
                event_id = given_id
            if isinstance(given_name, str) and 0 < len(given_name) <= 200:
                name = given_name
        return event_id or self.message_id, name

    def event(self) -> TriggerEvent:
        """The event, or a `Rejection` saying what is wrong with it."""
        if len(self.raw) > MAX_EVENT_BYTES:
            raise Rejection(
                "payload_too_large",
                f"the event is {len(self.raw)} bytes; at most {MAX_EVENT_BYTES} are accepted",
            )
        body = self.body()
        if not isinstance(body, dict):
            raise Rejection("malformed_event", "the message data is not a JSON object")
        try:
            return TriggerEvent.model_validate(body)
        except ValidationError as exc:
            raise Rejection("malformed_event", f"the event's {first_problem(exc)}") from None

    def identity(self, event: TriggerEvent) -> tuple[str, str]:
        """(tenant, user): from the attributes or `data`; given in both, they must agree."""
        tenant = self._one(event, TENANT_KEY)
        if tenant is None:
            raise Rejection(
                "invalid_tenant", f"no {TENANT_KEY}: set it as a message attribute or in data"
            )
        if not TENANT_ID.fullmatch(tenant):
            raise Rejection(
                "invalid_tenant", f"{TENANT_KEY} must be 1-128 letters, digits and _ . : @ -"
            )
        user = self._one(event, USER_KEY) or DEFAULT_USER
        if not USER_ID.fullmatch(user):
            raise Rejection("invalid_user", f"{USER_KEY} must be 1-200 printable characters")
        return tenant, user

    def _one(self, event: TriggerEvent, key: str) -> str | None:
        in_attributes = self.attributes.get(key)
        in_data = event.data.get(key)
        if in_data is not None and not isinstance(in_data, str):
            raise Rejection(f"invalid_{key[:-2]}", f"data.{key} must be a string")
        if in_attributes is not None and in_data is not None and in_attributes != in_data:
            raise Rejection(
                f"invalid_{key[:-2]}", f"{key} differs between the message attributes and data"
            )
        return in_attributes if in_attributes is not None else in_data
