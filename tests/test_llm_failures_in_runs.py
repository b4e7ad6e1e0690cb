"""LLM failures through the real OpenAI client and a local OpenAI-compatible server.

Transient failures are retried through Pub/Sub redelivery with each attempt
recorded; permanent ones fail the run at once with a readable reason.
"""

from __future__ import annotations

from typing import Any

import pytest

from devtools.openai_server import Reply
from tests.helpers.stack import Stack


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {"STEP_MAX_ATTEMPTS": "3", "LLM_SCHEMA_RETRIES": "1"}


def _session(stack: Stack, session_id: str) -> Any:
    return stack.get(f"/v1/brainstorm-sessions/{session_id}").get_json()


def test_server_errors_then_success_completes_with_attempts_recorded(stack: Stack):
    # (A rate limit is waited out without spending attempts: test_rate_limits.py.)
    stack.llm.script(Reply(status=503), Reply(status=500))
    created = stack.create_brainstorm()

    deliveries = stack.deliver_all()

    assert [d.status for d in deliveries] == [500, 500, 200]
    assert _session(stack, created["sessionId"])["status"] == "COMPLETED"
    steps = {s["id"]: s for s in stack.run_view(created["runId"])["steps"]}
    assert steps["generate-seeds"]["attempts"] == 3
    assert steps["generate-seeds"]["status"] == "COMPLETED"
    assert "500" in steps["generate-seeds"]["error"]  # the last failed attempt's error
    assert steps["load-session"]["status"] == "COMPLETED"


def test_a_provider_that_always_fails_ends_the_run_failed_with_a_readable_error(stack: Stack):
    stack.llm.responder = lambda request: Reply(status=500)
    created = stack.create_brainstorm()

    stack.deliver_all()

    session = _session(stack, created["sessionId"])
    assert session["status"] == "FAILED"
    assert "generate-seeds" in session["error"]
    assert "3 attempts" in session["error"]
    run = stack.run_view(created["runId"])
    assert run["status"] == "FAILED"
    assert run["error"] == session["error"]
    assert len(stack.llm.requests) == 3
    assert "Traceback" not in run["error"]


@pytest.mark.parametrize(
    "bad_reply",
    [
        Reply(content="this is not JSON at all"),
        Reply(content='{"seeds": [{"title": "x"}]}'),
    ],
    ids=["not-json", "violates-schema"],
)
def test_an_answer_that_never_matches_the_schema_fails_the_run_without_crashing(
    stack: Stack, bad_reply: Reply
):
    stack.llm.responder = lambda request: bad_reply
    created = stack.create_brainstorm()

    deliveries = stack.deliver_all()

    assert [d.status for d in deliveries] == [200]  # not retried: another try cannot help
    session = _session(stack, created["sessionId"])
    assert session["status"] == "FAILED"
    assert "schema" in session["error"]
    assert len(stack.llm.requests) == 2  # the adapter's own retry, then give up


def test_a_refusal_fails_the_run_at_once(stack: Stack):
    stack.llm.script(Reply(refusal="I can't help with that request."))
    created = stack.create_brainstorm()

    stack.deliver_all()

    session = _session(stack, created["sessionId"])
    assert session["status"] == "FAILED"
    assert "refused" in session["error"]
    assert "I can't help with that request." in session["error"]
    assert len(stack.llm.requests) == 1


def test_temperature_zero_reaches_the_provider_as_zero(stack: Stack):
    stack.create_brainstorm(creativityTemp=0, seedCount=9)
    stack.deliver_all()

    [request] = stack.llm.requests
    assert request["temperature"] == 0
    schema = request["response_format"]["json_schema"]["schema"]
    seeds = schema["properties"]["seeds"]
    assert seeds["minItems"] == seeds["maxItems"] == 9
    assert request["model"] == "test-model"
