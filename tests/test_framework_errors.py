"""What functions-framework's Flask app answers outside our routes is JSON too, never HTML.

The framework answers some paths itself (`/robots.txt`, `/favicon.ico`, a
path its catch-all rule cannot match) and turns an exception outside our
handler into a plain-text 500; these tests go through its real app.
"""

from __future__ import annotations

import pytest
from werkzeug.exceptions import (
    BadRequest,
    Forbidden,
    RequestEntityTooLarge,
    RequestHeaderFieldsTooLarge,
)

from tests.helpers.stack import Stack


def _assert_json_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == code
    assert "<html" not in response.get_data(as_text=True).lower()


@pytest.mark.parametrize(
    "path",
    [
        "/robots.txt",
        "/favicon.ico",
        "/static/x",
        "/static//x",
        "/v1/runs/a\nb",
        "/\n",
        "/v1/nothing-here",
        "//v1//functions",
        "/v1//functions",
    ],
)
def test_an_unroutable_path_is_404_json(stack: Stack, path: str):
    # PATH_INFO as a server passes it (the test client would read `//v1` as a host).
    response = stack.api.get("/", headers=stack.token(), environ_overrides={"PATH_INFO": path})

    _assert_json_error(response, 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/v1/brainstorm-sessions"),
        ("PUT", "/v1/runs/some-run"),
        ("PATCH", "/healthz"),
        ("BREW", "/v1/functions"),
    ],
)
def test_a_method_a_route_does_not_take_is_405_json(stack: Stack, method: str, path: str):
    response = stack.api.open(path, method=method, headers=stack.token())

    _assert_json_error(response, 405, "method_not_allowed")


def test_an_error_outside_our_handler_is_a_json_500_that_says_nothing_internal(stack: Stack):
    app = stack.api.application

    @app.before_request
    def explode() -> None:
        raise RuntimeError("internal detail that must not leak")

    response = stack.api.get("/healthz")

    _assert_json_error(response, 500, "internal")
    assert "internal detail" not in response.get_data(as_text=True)
    assert response.headers["X-Google-Status"] == "crash"


def test_a_long_unroutable_path_is_not_echoed_whole(stack: Stack):
    response = stack.api.get("/v1/" + "x" * 100_000, headers=stack.token())

    _assert_json_error(response, 404, "not_found")
    assert len(response.get_data()) < 1000


@pytest.mark.parametrize(
    ("raised", "status", "code"),
    [
        (BadRequest("bad header"), 400, "malformed_request"),
        (RequestHeaderFieldsTooLarge(), 431, "request_header_fields_too_large"),
        (RequestEntityTooLarge(), 413, "payload_too_large"),
        (Forbidden(), 403, "forbidden"),
    ],
    ids=["400", "431", "413", "403"],
)
def test_any_http_error_werkzeug_raises_outside_our_handler_is_json(
    stack: Stack, raised: Exception, status: int, code: str
):
    app = stack.api.application

    @app.before_request
    def refuse() -> None:
        raise raised

    _assert_json_error(stack.api.get("/healthz"), status, code)
