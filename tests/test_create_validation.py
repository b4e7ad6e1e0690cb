"""Bad create requests get a 4xx JSON error and change nothing: no document, no message."""

from __future__ import annotations

import pytest

from tests.helpers.stack import Stack

VALID = {"prompt": "A youth exchange about climate and art", "seedCount": 5}


def _nothing_written(stack: Stack) -> None:
    db = stack.services.db
    assert db.collection("brainstormSessions").get() == []
    assert db.collection("runs").get() == []
    assert stack.pull(wait=0) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": "too short"}, "prompt"),
        ({"prompt": "x" * 1001}, "prompt"),
        ({"prompt": " " * 30}, "prompt"),
        ({**VALID, "seedCount": 4}, "seedCount"),
        ({**VALID, "seedCount": 16}, "seedCount"),
        ({**VALID, "seedCount": 7.5}, "seedCount"),
        ({**VALID, "seedCount": "10"}, "seedCount"),
        ({**VALID, "seedCount": True}, "seedCount"),
        ({**VALID, "creativityTemp": -0.1}, "creativityTemp"),
        ({**VALID, "creativityTemp": 1.01}, "creativityTemp"),
        ({**VALID, "creativityTemp": "0.5"}, "creativityTemp"),
        ({**VALID, "creativityTemp": None}, "creativityTemp"),
        ({**VALID, "prompt": 12345678901}, "prompt"),
        ({"seedCount": 5}, "prompt"),
        ({**VALID, "colour": "blue"}, "colour"),
        ({**VALID, "seed_count": 5}, "seed_count"),
    ],
)
def test_invalid_field_is_422_naming_the_field_and_writes_nothing(
    stack: Stack, body: dict, field: str
):
    response = stack.post("/v1/brainstorm-sessions", body)

    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_input"
    assert field in [d["field"] for d in error["details"]]
    assert field in error["message"]
    _nothing_written(stack)


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b'{"prompt": ', b"[1, 2]", b'"a string"', b"\xff\xfe"],
    ids=["empty", "text", "truncated", "array", "string", "binary"],
)
def test_a_body_that_is_not_a_json_object_is_400_and_writes_nothing(stack: Stack, raw: bytes):
    response = stack.api.post(
        "/v1/brainstorm-sessions",
        data=raw,
        headers={**stack.token(), "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "malformed_request"
    _nothing_written(stack)


def test_temperature_zero_is_kept_not_replaced_by_the_default(stack: Stack):
    created = stack.create_brainstorm(creativityTemp=0)

    doc = stack.services.db.document(f"brainstormSessions/{created['sessionId']}").get()
    assert (doc.to_dict() or {})["creativityTemp"] == 0


def test_defaults_are_temperature_0_9_and_ten_seeds(stack: Stack):
    response = stack.post("/v1/brainstorm-sessions", {"prompt": VALID["prompt"]})

    doc = stack.services.db.document(f"brainstormSessions/{response.get_json()['sessionId']}")
    stored = doc.get().to_dict() or {}
    assert stored["creativityTemp"] == 0.9
    assert stored["seedCount"] == 10


def test_unknown_route_and_wrong_method_answer_json(stack: Stack):
    missing = stack.get("/v1/nothing-here")
    wrong = stack.api.delete("/v1/brainstorm-sessions", headers=stack.token())

    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "not_found"
    assert wrong.status_code == 405
    assert wrong.get_json()["error"]["code"] == "method_not_allowed"
