"""Bad trigger events change nothing and say why: a REJECTED result, a log line, an ack.

Each class of bad event is published to the stack's triggers topic and pushed
to the worker: the delivery is acknowledged (a 2xx: Pub/Sub never brings it
back nor dead-letters it), the results topic gets one `REJECTED` message with
the event's id and a reason, a warning line counts it by reason, and the
emulator holds no document at all (counted per collection).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from devtools.samples import WIZARD_ANSWERS
from shared.models.messages import DEAD_LETTER_COUNT_ATTRIBUTE
from tests.helpers.stack import Stack, create_project

BRAINSTORM = "brainstorm.generate-seeds"
DATA = {"prompt": "A youth exchange about climate and street art", "seedCount": 5}
COLLECTIONS = ("brainstormSessions", "projectSessions", "projects", "programmes", "runs", "usage")


def count(stack: Stack, collection: str) -> int:
    aggregation: Any = stack.services.db.collection(collection).count()
    return int(aggregation.get()[0][0].value)


def documents(stack: Stack) -> dict[str, int]:
    return {name: count(stack, name) for name in COLLECTIONS}


NOTHING = dict.fromkeys(COLLECTIONS, 0)


def rejected(stack: Stack) -> list[dict[str, Any]]:
    return [r for r in stack.results() if r.get("status") == "REJECTED"]


def deliver_one(stack: Stack, body: dict[str, Any] | bytes, **attributes: str) -> Any:
    stack.publish_event(body, **attributes)
    [message] = stack.pull_events()
    return stack.push_event(message), message.message_id


CASES: dict[str, tuple[dict[str, Any] | bytes, dict[str, str], str]] = {
    "not JSON": (b"brainstorm please", {"tenantId": "org-a"}, "malformed_event"),
    "not an object": (b'["brainstorm.generate-seeds"]', {"tenantId": "org-a"}, "malformed_event"),
    "no name": ({"data": DATA, "id": "evt-1"}, {"tenantId": "org-a"}, "malformed_event"),
    "an id with a newline": (
        {"name": BRAINSTORM, "data": DATA, "id": "evt\n1"},
        {"tenantId": "org-a"},
        "malformed_event",
    ),
    "data not an object": (
        {"name": BRAINSTORM, "data": "prompt", "id": "evt-1"},
        {"tenantId": "org-a"},
        "malformed_event",
    ),
    "an unknown name": (
        {"name": "brainstorm.generate-everything", "data": DATA, "id": "evt-1"},
        {"tenantId": "org-a"},
        "unknown_event",
    ),
    "a prompt under 10 characters": (
        {"name": BRAINSTORM, "data": {"prompt": "short"}, "id": "evt-1"},
        {"tenantId": "org-a"},
        "invalid_data",
    ),
    "seedCount as a string": (
        {"name": BRAINSTORM, "data": {**DATA, "seedCount": "5"}, "id": "evt-1"},
        {"tenantId": "org-a"},
        "invalid_data",
    ),
    "an unknown field": (
        {"name": BRAINSTORM, "data": {**DATA, "colour": "red"}, "id": "evt-1"},
        {"tenantId": "org-a"},
        "invalid_data",
    ),
    "wizard answers missing a field": (
        {
            "name": "project.generate-from-idea",
            "data": {k: v for k, v in WIZARD_ANSWERS.items() if k != "theme"},
            "id": "evt-1",
        },
        {"tenantId": "org-a"},
        "invalid_data",
    ),
    "a programme for a bad project id": (
        {"name": "programme.generate-from-concept", "data": {"projectId": "../x"}, "id": "evt-1"},
        {"tenantId": "org-a"},
        "invalid_data",
    ),
    "no tenant": ({"name": BRAINSTORM, "data": DATA, "id": "evt-1"}, {}, "invalid_tenant"),
    "a malformed tenant": (
        {"name": BRAINSTORM, "data": DATA, "id": "evt-1"},
        {"tenantId": "org a/../b"},
        "invalid_tenant",
    ),
    "a tenant that is not a string": (
        {"name": BRAINSTORM, "data": {**DATA, "tenantId": 42}, "id": "evt-1"},
        {},
        "invalid_tenant",
    ),
    "two different tenants": (
        {"name": BRAINSTORM, "data": {**DATA, "tenantId": "org-b"}, "id": "evt-1"},
        {"tenantId": "org-a"},
        "invalid_tenant",
    ),
    "a payload over 64 kB": (
        {"name": BRAINSTORM, "data": {**DATA, "padding": "x" * 70_000}, "id": "evt-1"},
        {"tenantId": "org-a"},
        "payload_too_large",
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_bad_event_is_acknowledged_rejected_with_its_reason_and_writes_nothing(
    stack: Stack, case: str, caplog: pytest.LogCaptureFixture
):
    body, attributes, reason = CASES[case]
    with caplog.at_level(logging.WARNING):
        delivery, message_id = deliver_one(stack, body, **attributes)

    assert delivery.status < 300, delivery.body
    [result] = rejected(stack)
    expected_id = "evt-1" if isinstance(body, dict) and body.get("id") == "evt-1" else message_id
    assert result["eventId"] == expected_id
    assert result["reason"] == reason
    assert result["error"]
    assert "runId" not in result
    lines = [r for r in caplog.records if r.getMessage() == "trigger event rejected"]
    assert [line.__dict__["reason"] for line in lines] == [reason]
    assert documents(stack) == NOTHING


def test_a_rejection_names_the_event_and_the_problem(stack: Stack):
    deliver_one(
        stack, {"name": BRAINSTORM, "data": {"prompt": "short"}, "id": "evt-9"}, tenantId="org-a"
    )

    [result] = rejected(stack)

    assert result["eventName"] == BRAINSTORM
    assert result["tenant"] == "org-a"
    assert result["workflow"] == BRAINSTORM
    assert "data.prompt" in result["error"]


def test_a_programme_for_another_tenants_project_is_rejected(stack: Stack):
    project_id = create_project(stack)  # org-a's
    before = documents(stack)
    stack.results()

    delivery, _ = deliver_one(
        stack,
        {"name": "programme.generate-from-concept", "data": {"projectId": project_id}, "id": "e"},
        tenantId="org-b",
    )

    assert delivery.status < 300
    [result] = rejected(stack)
    assert result["reason"] == "not_found"
    assert "project not found" in result["error"]
    assert documents(stack) == before


def test_a_dead_lettered_event_is_rejected_so_its_publisher_hears_of_it(stack: Stack):
    body = json.dumps({"name": BRAINSTORM, "data": DATA, "id": "evt-dl"}).encode()

    delivery = stack.push(
        body,
        {"tenantId": "org-a", DEAD_LETTER_COUNT_ATTRIBUTE: "15"},
        topic=stack.services.settings.dead_letter_topic,
    )

    assert delivery.status < 300
    [result] = rejected(stack)
    assert (result["eventId"], result["reason"], result["tenant"]) == (
        "evt-dl",
        "dead_lettered",
        "org-a",
    )
    assert "15 deliveries" in result["error"]
    assert documents(stack) == NOTHING


class TestAllowList:
    @pytest.fixture
    def stack_env(self) -> dict[str, str]:
        return {"TRIGGER_TENANTS": "org-a, org-c"}

    def test_an_event_for_a_tenant_not_allowed_is_rejected(self, stack: Stack):
        delivery, _ = deliver_one(
            stack, {"name": BRAINSTORM, "data": DATA, "id": "evt-1"}, tenantId="org-b"
        )

        assert delivery.status < 300
        [result] = rejected(stack)
        assert result["reason"] == "tenant_not_allowed"
        assert documents(stack) == NOTHING

    def test_an_allowed_tenant_starts_its_run(self, stack: Stack):
        deliver_one(stack, {"name": BRAINSTORM, "data": DATA, "id": "evt-1"}, tenantId="org-c")

        assert count(stack, "runs") == 1


def test_an_event_id_reused_with_other_data_starts_nothing_and_says_so(stack: Stack):
    deliver_one(stack, {"name": BRAINSTORM, "data": DATA, "id": "evt-r"}, tenantId="org-a")
    stack.results()
    other = {**DATA, "prompt": "Another exchange about music and migration"}

    delivery, _ = deliver_one(
        stack, {"name": BRAINSTORM, "data": other, "id": "evt-r"}, tenantId="org-a"
    )

    assert delivery.status < 300
    [result] = rejected(stack)
    assert (result["eventId"], result["reason"]) == ("evt-r", "conflict")
    assert count(stack, "runs") == 1
