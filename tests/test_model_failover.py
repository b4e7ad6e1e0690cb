"""Model failover through the whole stack: two OpenAI doubles, the emulators, real deliveries.

The primary double (`stack.llm`, model "test-model") and a fallback double
(model "fallback-model", its own key from an environment variable, as
LLM_FALLBACKS' `apiKeyEnv` says) are both real HTTP servers reached by the
real OpenAI client; the breaker's state is in the Firestore emulator. Calls
to each double are counted by the requests it received.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from devtools.openai_server import OpenAIServer, Reply
from tests.helpers.stack import Stack

PRIMARY, FALLBACK = "test-model", "fallback-model"
FAILURES = 2  # LLM_BREAKER_FAILURES
# LLM_BREAKER_COOLDOWN_SECONDS: longer than any test here, but for the test of
# the recovery, which takes the smallest allowed, to keep it short.
COOLDOWN = 120.0
SHORT_COOLDOWN = 1.0


@pytest.fixture
def fallback() -> Iterator[OpenAIServer]:
    with OpenAIServer(model=FALLBACK) as server:
        yield server


@pytest.fixture
def cooldown() -> float:
    return COOLDOWN


@pytest.fixture
def stack_env(fallback: OpenAIServer, cooldown: float) -> dict[str, str]:
    fallbacks = [{"model": FALLBACK, "baseUrl": fallback.base_url, "apiKeyEnv": "FALLBACK_KEY"}]
    return {
        "STEP_MAX_ATTEMPTS": "3",
        "OPENAI_TIMEOUT_SECONDS": "1",
        "LLM_FALLBACKS": json.dumps(fallbacks),
        # Generated per test: nothing key-like is stored in the repository.
        "FALLBACK_KEY": "test-" + secrets.token_hex(8),
        "LLM_BREAKER_FAILURES": str(FAILURES),
        "LLM_BREAKER_COOLDOWN_SECONDS": str(cooldown),
        "LLM_PRICES": json.dumps(
            {
                PRIMARY: {"inputPerMillion": 1, "outputPerMillion": 2},
                FALLBACK: {"inputPerMillion": 100, "outputPerMillion": 200},
            }
        ),
    }


def _completed_in_one_delivery(stack: Stack) -> dict[str, Any]:
    created = stack.create_brainstorm()
    deliveries = stack.deliver_all()
    assert [d.status for d in deliveries] == [200]  # no redelivery, no attempt spent
    session = stack.get(f"/v1/brainstorm-sessions/{created['sessionId']}").get_json()
    assert session["status"] == "COMPLETED", session
    return stack.run_view(created["runId"])


def _step(view: dict[str, Any], step_id: str = "generate-seeds") -> dict[str, Any]:
    step: dict[str, Any] = next(s for s in view["steps"] if s["id"] == step_id)
    return step


def test_a_primary_answering_500_completes_the_run_on_the_fallback_in_the_same_attempt(
    stack: Stack, fallback: OpenAIServer
):
    stack.llm.responder = lambda request: Reply(status=500)

    view = _completed_in_one_delivery(stack)

    step = _step(view)
    assert (step["status"], step["attempts"], step["model"]) == ("COMPLETED", 1, FALLBACK)
    assert [f["model"] for f in step["failedModels"]] == [PRIMARY]
    assert "HTTP 500" in step["failedModels"][0]["error"]
    assert (len(stack.llm.requests), len(fallback.requests)) == (1, 1)
    assert (
        fallback.request_headers[0]["authorization"]
        != stack.llm.request_headers[0]["authorization"]
    )  # the fallback's own key


def test_a_healthy_primary_answers_and_the_step_says_so(stack: Stack, fallback: OpenAIServer):
    view = _completed_in_one_delivery(stack)

    step = _step(view)
    assert (step["model"], step["failedModels"]) == (PRIMARY, [])
    assert fallback.requests == []


def test_after_n_failures_the_primary_is_not_called_during_the_cool_down(
    stack: Stack, fallback: OpenAIServer
):
    stack.llm.responder = lambda request: Reply(status=500)
    for _ in range(FAILURES):
        _completed_in_one_delivery(stack)
    assert len(stack.llm.requests) == FAILURES

    views = [_completed_in_one_delivery(stack) for _ in range(3)]

    assert len(stack.llm.requests) == FAILURES  # skipped: its breaker is open
    assert len(fallback.requests) == FAILURES + 3
    for view in views:
        [skipped] = _step(view)["failedModels"]
        assert skipped["model"] == PRIMARY
        assert "breaker is open" in skipped["error"]


@pytest.mark.parametrize("cooldown", [SHORT_COOLDOWN])
def test_a_recovered_primary_is_probed_after_the_cool_down_and_takes_over_again(
    stack: Stack, fallback: OpenAIServer
):
    stack.llm.responder = lambda request: Reply(status=500)
    for _ in range(FAILURES):
        _completed_in_one_delivery(stack)
    stack.llm.responder = None  # the outage ends

    time.sleep(SHORT_COOLDOWN + 0.2)
    probed, after = _completed_in_one_delivery(stack), _completed_in_one_delivery(stack)

    assert (_step(probed)["model"], _step(after)["model"]) == (PRIMARY, PRIMARY)
    assert len(stack.llm.requests) == FAILURES + 2
    assert len(fallback.requests) == FAILURES


def test_a_primary_timing_out_fails_over_and_opens_its_breaker(
    stack: Stack, fallback: OpenAIServer
):
    stack.llm.responder = lambda request: Reply(delay=3.0)  # OPENAI_TIMEOUT_SECONDS is 1

    views = [_completed_in_one_delivery(stack) for _ in range(FAILURES + 2)]

    assert [_step(v)["model"] for v in views] == [FALLBACK] * (FAILURES + 2)
    assert "timeout" in _step(views[0])["failedModels"][0]["error"]
    assert len(stack.llm.requests) == FAILURES


def test_a_primary_rejecting_the_schema_fails_the_run_without_failover(
    stack: Stack, fallback: OpenAIServer
):
    stack.llm.responder = lambda request: Reply(
        status=400, content="Invalid schema for response_format 'SeedBatch'"
    )
    created = stack.create_brainstorm()

    stack.deliver_all()

    view = stack.run_view(created["runId"])
    assert view["status"] == "FAILED"
    assert "Invalid schema" in view["error"]
    assert fallback.requests == []


def test_with_the_fallback_down_too_the_run_fails_as_before_naming_both(
    stack: Stack, fallback: OpenAIServer
):
    stack.llm.responder = lambda request: Reply(status=500)
    fallback.responder = lambda request: Reply(status=503)
    created = stack.create_brainstorm()

    deliveries = stack.deliver_all()

    assert [d.status for d in deliveries] == [500, 500, 200]  # STEP_MAX_ATTEMPTS attempts
    view = stack.run_view(created["runId"])
    assert view["status"] == "FAILED"
    assert "3 attempts" in view["error"]
    # By the last attempt both breakers are open (LLM_BREAKER_FAILURES is 2):
    # the reason still names each model and its failure.
    primary_part, fallback_part = view["error"].split(f"; {FALLBACK}: ")
    assert f"{PRIMARY}: " in primary_part
    assert "server error (HTTP 500)" in primary_part
    assert "server error (HTTP 503)" in fallback_part
    assert _step(view)["attempts"] == 3


def test_usage_and_cost_are_the_answering_models(stack: Stack, fallback: OpenAIServer):
    stack.llm.responder = lambda request: Reply(status=500)
    fallback.responder = lambda request: Reply(usage=(1000, 2000))

    view = _completed_in_one_delivery(stack)

    usage = _step(view)["usage"]
    assert (usage["model"], usage["promptTokens"], usage["completionTokens"]) == (
        FALLBACK,
        1000,
        2000,
    )
    run = stack.run_doc(view["runId"])
    # The fallback's price: 1000 * 100 / 1e6 + 2000 * 200 / 1e6.
    assert run["usage"]["costUsd"] == pytest.approx(0.5)


def test_a_step_that_paid_two_models_is_priced_at_each_ones_price(
    stack: Stack, fallback: OpenAIServer
):
    # The primary's rejected answer is paid for, then it fails: the fallback answers.
    stack.llm.script(Reply(content="not JSON", usage=(1000, 2000)), Reply(status=500))
    fallback.responder = lambda request: Reply(usage=(1000, 2000))

    view = _completed_in_one_delivery(stack)

    usage = _step(view)["usage"]
    assert set(usage["models"]) == {PRIMARY, FALLBACK}
    assert usage["models"][PRIMARY]["promptTokens"] == 1000
    assert usage["models"][FALLBACK]["completionTokens"] == 2000
    # 1000 * 1 / 1e6 + 2000 * 2 / 1e6 at the primary's price, 0.5 at the fallback's.
    assert stack.run_doc(view["runId"])["usage"]["costUsd"] == pytest.approx(0.505)


def test_usage_report_splits_tokens_and_cost_by_the_model_that_answered(
    stack: Stack, fallback: OpenAIServer
):
    stack.llm.responder = lambda request: Reply(usage=(1000, 2000))
    fallback.responder = lambda request: Reply(usage=(100, 200))
    _completed_in_one_delivery(stack)  # on the primary
    stack.llm.responder = lambda request: Reply(status=500)
    _completed_in_one_delivery(stack)  # on the fallback
    today = datetime.now(UTC).date().isoformat()

    report = stack.get(f"/v1/usage?from={today}&to={today}").get_json()

    [row] = report["days"]
    assert row["runs"] == 2
    assert row["models"] == [
        # 100 * 100 / 1e6 + 200 * 200 / 1e6: the fallback's price
        {
            "model": FALLBACK,
            "promptTokens": 100,
            "completionTokens": 200,
            "totalTokens": 300,
            "costUsd": pytest.approx(0.05),
        },
        # 1000 * 1 / 1e6 + 2000 * 2 / 1e6: the primary's price
        {
            "model": PRIMARY,
            "promptTokens": 1000,
            "completionTokens": 2000,
            "totalTokens": 3000,
            "costUsd": pytest.approx(0.005),
        },
    ]
    assert row["costUsd"] == pytest.approx(0.055)
    assert report["totals"]["models"] == row["models"]
