"""A step's record carries the model tokens of all its attempts, failed ones included.

Through the real OpenAI client and the local OpenAI-compatible server: every
chat completion received (a rejected answer, a schema retry) counts, and the
counts of an attempt that failed are kept when a later attempt succeeds.
"""

from __future__ import annotations

from typing import Any

import pytest

from devtools.openai_server import Reply
from tests.helpers.stack import Stack


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {"STEP_MAX_ATTEMPTS": "3", "LLM_SCHEMA_RETRIES": "1"}


def _steps(stack: Stack, run_id: str) -> dict[str, Any]:
    steps: dict[str, Any] = stack.run_doc(run_id)["steps"]
    return steps


def test_a_completed_step_records_its_model_calls_tokens(stack: Stack):
    stack.llm.script(Reply(usage=(120, 340)))
    created = stack.create_brainstorm()

    stack.deliver_all()

    steps = _steps(stack, created["runId"])
    assert steps["generate-seeds"]["usage"] == {
        "promptTokens": 120,
        "completionTokens": 340,
        "totalTokens": 460,
        "calls": 1,
        "model": "test-model",
        "models": {
            "test-model": {
                "promptTokens": 120,
                "completionTokens": 340,
                "totalTokens": 460,
                "calls": 1,
            }
        },
    }
    assert steps["generate-seeds"]["repairs"] == []
    assert steps["save-seeds"]["usage"] is None  # no model call, no usage
    view = {s["id"]: s for s in stack.run_view(created["runId"])["steps"]}
    assert view["generate-seeds"]["usage"]["totalTokens"] == 460


def test_usage_sums_a_failed_attempt_and_the_successful_one(stack: Stack):
    # Attempt 1: an answer that breaks the schema (paid for), then a 500 on
    # the adapter's retry, so the step is retried. Attempt 2 succeeds.
    stack.llm.script(
        Reply(content="not JSON", usage=(100, 5)),
        Reply(status=500),
        Reply(usage=(200, 400)),
    )
    created = stack.create_brainstorm()

    deliveries = stack.deliver_all()

    assert [d.status for d in deliveries] == [500, 200]
    record = _steps(stack, created["runId"])["generate-seeds"]
    assert record["status"] == "COMPLETED"
    assert record["attempts"] == 2
    assert record["usage"] == {
        "promptTokens": 300,
        "completionTokens": 405,
        "totalTokens": 705,
        "calls": 2,
        "model": "test-model",
        "models": {
            "test-model": {
                "promptTokens": 300,
                "completionTokens": 405,
                "totalTokens": 705,
                "calls": 2,
            }
        },
    }


def test_a_step_that_fails_for_good_keeps_the_usage_of_every_rejected_answer(stack: Stack):
    stack.llm.responder = lambda request: Reply(content="not JSON", usage=(50, 7))
    created = stack.create_brainstorm()

    stack.deliver_all()

    record = _steps(stack, created["runId"])["generate-seeds"]
    assert record["status"] == "FAILED"
    assert record["usage"]["calls"] == 2  # the answer and the adapter's schema retry
    assert record["usage"]["totalTokens"] == 2 * 57
