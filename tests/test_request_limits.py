"""Request bodies are bounded: over 64 kB is a JSON 413, nesting past 32 levels a JSON 400.

Both are refused before anything is written. (The same limits against the
real server, including chunked bodies, are in test_http_server_limits.py.)
"""

from __future__ import annotations

import json

import pytest

from devtools.samples import WIZARD_ANSWERS
from shared.http.responses import MAX_BODY_BYTES, MAX_JSON_DEPTH
from tests.helpers.stack import Stack

BRAINSTORM = {"prompt": "A youth exchange about climate and art", "seedCount": 5}
CREATE_ROUTES = [
    ("/v1/brainstorm-sessions", BRAINSTORM),
    ("/v1/project-sessions", WIZARD_ANSWERS),
]


def _post_raw(stack: Stack, path: str, raw: bytes):
    return stack.api.post(
        path, data=raw, headers={**stack.token(), "Content-Type": "application/json"}
    )


def _nothing_written(stack: Stack) -> None:
    db = stack.services.db
    for collection in ("brainstormSessions", "projectSessions", "runs"):
        assert db.collection(collection).get() == []


def _padded(body: dict, size: int) -> bytes:
    """`body` as JSON, padded with whitespace (still valid JSON) to exactly `size` bytes."""
    raw = json.dumps(body).encode()
    return raw[:-1] + b" " * (size - len(raw)) + b"}"


@pytest.mark.parametrize(("path", "body"), CREATE_ROUTES)
def test_a_body_over_the_limit_is_413_json_and_writes_nothing(stack: Stack, path: str, body):
    response = _post_raw(stack, path, _padded(body, MAX_BODY_BYTES + 1))

    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"
    _nothing_written(stack)


@pytest.mark.parametrize(("path", "body"), CREATE_ROUTES)
def test_a_body_exactly_at_the_limit_is_accepted(stack: Stack, path: str, body):
    response = _post_raw(stack, path, _padded(body, MAX_BODY_BYTES))

    assert response.status_code == 202, response.get_json()


def test_the_limit_holds_on_routes_that_take_no_body(stack: Stack):
    response = _post_raw(stack, "/v1/runs/some-run/cancel", b" " * (MAX_BODY_BYTES + 1))

    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"


def test_a_body_over_the_limit_is_refused_before_authentication(stack: Stack):
    response = stack.api.post("/v1/brainstorm-sessions", data=b"x" * (MAX_BODY_BYTES + 1))

    assert response.status_code == 413


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 1000 + b"]" * 1000,
        b'{"prompt": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        b'{"prompt": ' + b'{"a": ' * 1000 + b"1" + b"}" * 1000 + b"}",
        b'{"prompt": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
        b'{"prompt": ' + b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH + b"}",
    ],
    ids=["array-1000", "in-object-1000", "objects-1000", "array-30000", "one-past-the-limit"],
)
@pytest.mark.parametrize("path", [path for path, _ in CREATE_ROUTES])
def test_deeply_nested_json_is_400_malformed_request(stack: Stack, path: str, raw: bytes):
    response = _post_raw(stack, path, raw)

    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "malformed_request"
    _nothing_written(stack)


def test_nesting_up_to_the_limit_is_judged_by_the_model(stack: Stack):
    depth = MAX_JSON_DEPTH - 1
    raw = b'{"prompt": ' + b"[" * depth + b"]" * depth + b"}"

    response = _post_raw(stack, "/v1/brainstorm-sessions", raw)

    assert response.status_code == 422
    assert response.get_json()["error"]["details"][0]["field"] == "prompt"
