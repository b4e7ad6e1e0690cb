"""Rate limits are waited out, never failed for: a provider's 429 and the deployment's LLM budget.

The provider's 429 says how long to wait (Retry-After, x-ratelimit-reset-*),
over real HTTP from the OpenAI-compatible double; a short wait is waited out
in process, a long one hands the run back until then without spending the
step's attempt, so a 10-minute storm (fake clock, in-memory store) ends
COMPLETED while 5xx and timeouts keep their attempt accounting.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from devtools.openai_server import OpenAIServer, Reply
from shared.engine import RunStatus, StepStatus
from shared.errors import RateLimited, TransientError
from shared.llm.interface import Generation
from shared.llm.openai_model import OpenAILanguageModel
from tests.helpers.engine_support import Harness, Recorder, linear_workflow
from tests.helpers.llm_support import Idea, make_test_key
from tests.helpers.stack import Stack

VALID = json.dumps({"title": "Street art for inclusion", "score": 0.8})
WRONG = json.dumps({"title": "x", "score": 3})


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as running:
        yield running


class CountingBudget:
    """A `CallBudget` that always grants and counts what it was asked."""

    def __init__(self) -> None:
        self.taken = 0
        self.tokens: list[int] = []

    def before_call(self, estimated_tokens: int) -> object:
        self.taken += 1
        return self.taken

    def after_call(self, ticket: object, estimated_tokens: int, actual_tokens: int) -> None:
        self.tokens.append(actual_tokens)


def _model(server: OpenAIServer, **extra: Any) -> tuple[OpenAILanguageModel, list[float]]:
    slept: list[float] = []
    model = OpenAILanguageModel(
        api_key=make_test_key(),
        base_url=server.base_url,
        model="gpt-test",
        timeout_seconds=5,
        schema_retries=1,
        sleep=slept.append,
        **extra,
    )
    return model, slept


def _generate(model: OpenAILanguageModel) -> Generation[Idea]:
    return model.generate(Idea, system="s", prompt="p", temperature=0.5)


# -- the provider's 429 ------------------------------------------------------------------


def test_a_short_retry_after_is_waited_out_in_process(server: OpenAIServer):
    server.script(Reply(status=429, headers={"Retry-After": "2"}), Reply(content=VALID))
    model, slept = _model(server)

    assert _generate(model).value.title == "Street art for inclusion"
    assert slept == [2.0]


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "90"}, 90.0),
        ({"x-ratelimit-reset-requests": "6m0s"}, 360.0),
        ({"x-ratelimit-reset-tokens": "1m30.5s", "x-ratelimit-reset-requests": "20ms"}, 90.5),
        ({"retry-after-ms": "45000"}, 45.0),
    ],
    ids=["retry-after", "reset-requests", "reset-tokens", "retry-after-ms"],
)
def test_a_long_rate_limit_says_how_long_to_wait(
    server: OpenAIServer, headers: dict[str, str], seconds: float
):
    server.script(Reply(status=429, headers=headers))
    model, slept = _model(server)

    with pytest.raises(RateLimited) as limited:
        _generate(model)

    assert limited.value.wait_seconds == pytest.approx(seconds)
    assert slept == []


def test_retry_after_as_a_date_is_understood(server: OpenAIServer):
    when = datetime.now(UTC) + timedelta(minutes=5)
    server.script(Reply(status=429, headers={"Retry-After": format_datetime(when, usegmt=True)}))
    model, _ = _model(server)

    with pytest.raises(RateLimited) as limited:
        _generate(model)

    assert 290 < limited.value.wait_seconds <= 300


def test_a_spent_account_quota_is_not_waited_for(server: OpenAIServer):
    server.responder = lambda request: Reply(
        status=429,
        body=json.dumps(
            {
                "error": {
                    "message": "quota",
                    "type": "insufficient_quota",
                    "code": "insufficient_quota",
                }
            }
        ),
    )
    model, _ = _model(server)

    with pytest.raises(TransientError) as failed:
        _generate(model)

    assert not isinstance(failed.value, RateLimited)


def test_the_budget_is_taken_before_every_request_schema_retries_included(server: OpenAIServer):
    server.script(Reply(content=WRONG, usage=(7, 3)), Reply(content=VALID, usage=(8, 4)))
    budget = CountingBudget()
    model, _ = _model(server, budget=budget)

    _generate(model)

    assert budget.taken == len(server.requests) == 2
    assert budget.tokens == [10, 12]  # each answer's real usage, for the token budget


# -- the engine: waiting is not an attempt ---------------------------------------------------


def _storm(until: datetime, engine: Harness, wait: float) -> Any:
    def maybe_limited(ctx: Any) -> None:
        if engine.clock() < until:
            raise RateLimited("HTTP 429", wait_seconds=wait)

    return maybe_limited


def test_a_ten_minute_429_storm_does_not_fail_a_run_whose_deadline_is_later(
    engine: Harness, recorder: Recorder
):
    engine.start(linear_workflow(recorder, deadline_minutes=30))
    recorder.on["compute"] = _storm(engine.clock() + timedelta(minutes=10), engine, wait=60)

    outcome = engine.deliver()
    run = engine.run()
    assert outcome == "RATE_LIMITED"  # acknowledged, not a hot nack loop
    assert run.status is RunStatus.RUNNING
    assert run.lease_owner is None
    assert run.watchdog_at == engine.clock() + timedelta(seconds=60)
    assert run.steps["compute"].attempts == 0  # the attempt was given back
    assert run.steps["compute"].status is StepStatus.RETRYING

    for _ in range(30):
        engine.clock.advance(60)
        assert engine.sweep().redriven == 1  # the run comes back when the wait is over
        if engine.deliver() == "COMPLETED":
            break
    run = engine.run()
    assert run.status is RunStatus.COMPLETED
    assert run.steps["compute"].attempts == 1
    assert recorder.calls["compute"] > engine.settings.step_max_attempts


def test_a_storm_past_the_deadline_fails_the_run_at_its_deadline(
    engine: Harness, recorder: Recorder
):
    engine.start(linear_workflow(recorder, deadline_minutes=5))
    recorder.on["compute"] = _storm(engine.clock() + timedelta(hours=1), engine, wait=120)

    assert engine.deliver() == "RATE_LIMITED"
    engine.clock.advance(5 * 60)
    assert engine.sweep().failed == 1
    assert engine.run().status is RunStatus.FAILED
    assert "deadline exceeded" in (engine.run().error or "")


def test_server_errors_keep_spending_attempts(engine: Harness, recorder: Recorder):
    engine.start(linear_workflow(recorder))

    def server_error(ctx: Any) -> None:
        raise TransientError("LLM provider failed with a server error (HTTP 500)")

    recorder.on["compute"] = server_error
    outcomes = [engine.deliver() for _ in range(3)]

    assert outcomes == ["RETRY", "RETRY", "FAILED"]
    assert engine.run().steps["compute"].attempts == 3


# -- end to end: a short storm over the real wire --------------------------------------------


# The storm, scaled down from a default in-process budget (10 s) and a 3 s
# Retry-After to these: the same course (waits out in process until the budget
# is spent, then the run handed back and redriven by the sweep, more than once)
# in a third of the time.
RETRY_AFTER = 1
IN_PROCESS_BUDGET = 2 * RETRY_AFTER
STORM_SECONDS = 6


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {
        "STEP_MAX_ATTEMPTS": "2",
        "LLM_RATE_LIMIT_MAX_WAIT_SECONDS": str(IN_PROCESS_BUDGET),
    }


def test_a_429_storm_shorter_than_the_deadline_ends_completed(stack: Stack):
    storm_ends = time.monotonic() + STORM_SECONDS
    stack.llm.responder = lambda request: (
        Reply(status=429, headers={"Retry-After": str(RETRY_AFTER)})
        if time.monotonic() < storm_ends
        else Reply()
    )
    created = stack.create_brainstorm()

    for _ in range(40):
        stack.deliver_all()
        if stack.run_doc(created["runId"])["status"] in ("COMPLETED", "FAILED"):
            break
        time.sleep(1)
        stack.sweep()  # Cloud Scheduler's tick, sooner

    run = stack.run_view(created["runId"])
    assert run["status"] == "COMPLETED", run
    steps = {s["id"]: s for s in run["steps"]}
    assert steps["generate-seeds"]["attempts"] == 1
    assert len(stack.llm.requests) > 4  # many more 429s than the step has attempts
