"""The switching rule, per call, with two OpenAI doubles over real HTTP (docs/architecture.md).

Switch on what another provider could avoid (5xx, timeouts, connection
errors, long 429s); never on what is ours (a rejected request, a refusal,
an answer that never meets the schema). The breaker is on the in-memory
store with a fake clock here; tests/test_model_failover.py runs the same
through the whole stack.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from devtools.openai_server import OpenAIServer, Reply
from shared.config import FallbackModel, LLMSettings
from shared.engine import StepMeter
from shared.errors import NonRetriableError, RateLimited
from shared.llm.breaker import BreakerStore, MemoryBreakerStore
from shared.llm.factory import build_language_model
from shared.llm.failover import FailoverModel, ModelsUnavailable
from tests.helpers.llm_support import BrokenStore, Idea, MemoryCounter, make_test_key

PRIMARY, FALLBACK = "primary-model", "fallback-model"


@pytest.fixture
def primary() -> Iterator[OpenAIServer]:
    with OpenAIServer(model=PRIMARY) as server:
        yield server


@pytest.fixture
def fallback() -> Iterator[OpenAIServer]:
    with OpenAIServer(model=FALLBACK) as server:
        yield server


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _chain(
    primary: OpenAIServer,
    fallback: OpenAIServer,
    clock: FakeClock | None = None,
    breakers: BreakerStore | None = None,
    counter: MemoryCounter | None = None,
    **overrides: object,
) -> FailoverModel:
    fallback_key = make_test_key()
    settings = LLMSettings(
        api_key=make_test_key(),
        base_url=primary.base_url,
        model=PRIMARY,
        timeout_seconds=1.0,
        schema_retries=1,
        fallbacks=(
            FallbackModel(model=FALLBACK, base_url=fallback.base_url, api_key=fallback_key),
        ),
        **overrides,  # type: ignore[arg-type]
    )
    clock = clock or FakeClock()
    model = build_language_model(
        settings,
        breaker_store=breakers or MemoryBreakerStore(),
        budget_counter=counter,
        clock=clock,
        sleep=clock.sleep,
    )
    assert isinstance(model, FailoverModel)
    return model


def _ask(model: FailoverModel, meter: StepMeter | None = None) -> str:
    return model.generate(Idea, system="s", prompt="p", temperature=0.2, meter=meter).model


@pytest.mark.parametrize("status", [500, 502, 503, 408])
def test_a_server_error_switches_to_the_fallback_in_the_same_call(
    primary: OpenAIServer, fallback: OpenAIServer, status: int
) -> None:
    primary.responder = lambda request: Reply(status=status)
    meter = StepMeter()

    answered = _ask(_chain(primary, fallback), meter)

    assert answered == FALLBACK
    assert (len(primary.requests), len(fallback.requests)) == (1, 1)
    assert meter.model == FALLBACK
    [failed] = meter.failed_models
    assert failed.model == PRIMARY
    assert f"HTTP {status}" in failed.error


def test_a_timeout_switches_to_the_fallback(primary: OpenAIServer, fallback: OpenAIServer) -> None:
    primary.responder = lambda request: Reply(delay=3.0)
    meter = StepMeter()

    assert _ask(_chain(primary, fallback), meter) == FALLBACK
    assert "timeout" in meter.failed_models[0].error


def test_a_connection_error_switches_to_the_fallback(
    primary: OpenAIServer, fallback: OpenAIServer
) -> None:
    model = _chain(primary, fallback)
    primary.stop()  # nothing listens there any more

    assert _ask(model) == FALLBACK


def test_a_rejected_request_never_switches(primary: OpenAIServer, fallback: OpenAIServer) -> None:
    primary.responder = lambda request: Reply(
        status=400, content="Invalid schema for response_format 'Idea'"
    )
    meter = StepMeter()

    with pytest.raises(NonRetriableError, match="Invalid schema"):
        _ask(_chain(primary, fallback), meter)

    assert fallback.requests == []
    assert meter.model is None
    assert meter.failed_models[0].model == PRIMARY


def test_a_refusal_never_switches(primary: OpenAIServer, fallback: OpenAIServer) -> None:
    primary.responder = lambda request: Reply(refusal="I can't help with that.")

    with pytest.raises(NonRetriableError, match="refused"):
        _ask(_chain(primary, fallback))

    assert fallback.requests == []


def test_an_answer_that_never_meets_the_schema_never_switches(
    primary: OpenAIServer, fallback: OpenAIServer
) -> None:
    primary.responder = lambda request: Reply(content='{"title": "x", "score": 7}')

    with pytest.raises(NonRetriableError, match="schema"):
        _ask(_chain(primary, fallback))

    assert len(primary.requests) == 2  # its own schema retry, then give up
    assert fallback.requests == []


def test_the_schema_retry_applies_to_the_fallback_that_answers(
    primary: OpenAIServer, fallback: OpenAIServer
) -> None:
    primary.responder = lambda request: Reply(status=500)
    fallback.script(Reply(content='{"title": "x", "score": 7}'))  # then a valid answer
    meter = StepMeter()

    assert _ask(_chain(primary, fallback), meter) == FALLBACK
    assert len(fallback.requests) == 2
    assert "rejected" in fallback.requests[1]["messages"][-1]["content"]


def test_a_short_rate_limit_is_waited_out_on_the_same_model(
    primary: OpenAIServer, fallback: OpenAIServer
) -> None:
    primary.script(Reply(status=429, headers={"retry-after": "2"}))

    assert _ask(_chain(primary, fallback, rate_limit_max_wait_seconds=5)) == PRIMARY
    assert fallback.requests == []


def test_a_rate_limit_longer_than_the_setting_switches(
    primary: OpenAIServer, fallback: OpenAIServer
) -> None:
    primary.script(Reply(status=429, headers={"retry-after": "30"}))

    assert _ask(_chain(primary, fallback, rate_limit_max_wait_seconds=5)) == FALLBACK
    assert len(primary.requests) == 1


def test_every_model_down_fails_the_call_naming_each(
    primary: OpenAIServer, fallback: OpenAIServer
) -> None:
    primary.responder = lambda request: Reply(status=500)
    fallback.responder = lambda request: Reply(status=503)
    meter = StepMeter()

    with pytest.raises(ModelsUnavailable) as failed:
        _ask(_chain(primary, fallback), meter)

    assert f"{PRIMARY}: LLM provider failed with a server error (HTTP 500)" in str(failed.value)
    assert f"{FALLBACK}: LLM provider failed with a server error (HTTP 503)" in str(failed.value)
    assert [f.model for f in meter.failed_models] == [PRIMARY, FALLBACK]


def test_every_model_rate_limited_waits_for_the_soonest(
    primary: OpenAIServer, fallback: OpenAIServer
) -> None:
    primary.responder = lambda request: Reply(status=429, headers={"retry-after": "40"})
    fallback.responder = lambda request: Reply(status=429, headers={"retry-after": "25"})

    with pytest.raises(RateLimited) as limited:
        _ask(_chain(primary, fallback, rate_limit_max_wait_seconds=5))

    assert limited.value.wait_seconds == 25


def test_the_primary_is_not_called_while_its_breaker_is_open_and_is_probed_after(
    primary: OpenAIServer, fallback: OpenAIServer
) -> None:
    clock = FakeClock()
    model = _chain(primary, fallback, clock, breaker_failures=2, breaker_cooldown_seconds=30)
    primary.responder = lambda request: Reply(status=500)
    for _ in range(2):
        assert _ask(model) == FALLBACK

    for _ in range(5):
        clock.now += 5
        assert _ask(model) == FALLBACK
    assert len(primary.requests) == 2  # none during the cool-down

    primary.responder = None  # it recovered
    clock.now += 30
    answers = [_ask(model) for _ in range(3)]

    assert answers == [PRIMARY] * 3
    assert len(primary.requests) == 5


def test_usage_is_attributed_to_the_model_that_answered(
    primary: OpenAIServer, fallback: OpenAIServer
) -> None:
    primary.responder = lambda request: Reply(status=500)
    fallback.responder = lambda request: Reply(usage=(7, 11))
    meter = StepMeter()

    _ask(_chain(primary, fallback), meter)

    assert meter.usage is not None
    assert (meter.usage.model, meter.usage.prompt_tokens, meter.usage.completion_tokens) == (
        FALLBACK,
        7,
        11,
    )


def test_an_answer_from_a_fallback_logs_running_on_fallback_with_the_models(
    primary: OpenAIServer, fallback: OpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    primary.responder = lambda request: Reply(status=500)
    model = _chain(primary, fallback)
    _ask(model)  # the primary fails: on the fallback
    primary.responder = None
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="shared.llm.failover"):
        _ask(model)  # the primary answers again: nothing logged for this one
    assert [r for r in caplog.records if r.getMessage() == "running on fallback"] == []

    primary.responder = lambda request: Reply(status=500)
    with caplog.at_level(logging.WARNING, logger="shared.llm.failover"):
        _ask(model)

    [line] = [r for r in caplog.records if r.getMessage() == "running on fallback"]
    assert line.__dict__["model"] == FALLBACK
    assert line.__dict__["fallbackFrom"] == PRIMARY


def test_with_the_breakers_store_down_calls_still_fail_over(
    primary: OpenAIServer, fallback: OpenAIServer
) -> None:
    primary.responder = lambda request: Reply(status=500)

    assert _ask(_chain(primary, fallback, breakers=BrokenStore())) == FALLBACK


def test_each_model_has_its_own_llm_budget_and_a_spent_one_switches(
    primary: OpenAIServer, fallback: OpenAIServer
) -> None:
    counter = MemoryCounter()
    # 2 calls a minute: one window of one call (so no 60 s holds more than 2);
    # a model's second call would wait past the 10 s waited in process.
    model = _chain(primary, fallback, counter=counter, requests_per_minute=2)

    answers = [_ask(model) for _ in range(2)]

    assert answers == [PRIMARY, FALLBACK]  # the primary's budget was spent, not the fallback's
    assert (len(primary.requests), len(fallback.requests)) == (1, 1)
    scopes = {key.split("-requests-")[0] for key in counter.counts}
    assert len(scopes) == 2  # one set of counters per model
