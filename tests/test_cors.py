"""The browser frontend calls the api from its own origin: CORS for allowed origins only."""

from __future__ import annotations

import pytest

from tests.helpers.stack import Stack

FRONTEND = "https://app.example.test"


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {"CORS_ALLOWED_ORIGINS": f"{FRONTEND}, http://localhost:5173"}


def test_a_preflight_from_an_allowed_origin_is_answered_without_a_token(stack: Stack):
    response = stack.api.options(
        "/v1/brainstorm-sessions",
        headers={
            "Origin": FRONTEND,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == FRONTEND
    allowed_headers = response.headers["Access-Control-Allow-Headers"].lower()
    for header in ("authorization", "content-type", "idempotency-key"):
        assert header in allowed_headers
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_responses_to_an_allowed_origin_carry_the_cors_header_errors_included(stack: Stack):
    ok = stack.api.get("/v1/functions", headers={**stack.token(), "Origin": FRONTEND})
    denied = stack.api.get("/v1/functions", headers={"Origin": FRONTEND})

    assert ok.headers["Access-Control-Allow-Origin"] == FRONTEND
    assert denied.status_code == 401
    assert denied.headers["Access-Control-Allow-Origin"] == FRONTEND  # the app can read the error
    assert "Location" in ok.headers["Access-Control-Expose-Headers"]


def test_another_origin_gets_no_cors_headers(stack: Stack):
    response = stack.api.options(
        "/v1/brainstorm-sessions",
        headers={"Origin": "https://evil.example.test", "Access-Control-Request-Method": "POST"},
    )
    plain = stack.api.get("/v1/functions", headers={**stack.token(), "Origin": "https://x.test"})

    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Origin" not in plain.headers


def test_a_preflight_lets_a_browser_resume_an_event_stream_with_last_event_id(stack: Stack):
    # clients/typescript/events.ts resumes a stream with this header, cross-origin.
    response = stack.api.options(
        "/v1/runs/any-run/events",
        headers={
            "Origin": FRONTEND,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization, last-event-id",
        },
    )

    assert response.status_code == 204
    assert "last-event-id" in response.headers["Access-Control-Allow-Headers"].lower()
