"""Admission per tenant: creates per minute and daily token/cost limits, refused with 429.

A refused create writes nothing (the documents are counted on the emulator),
says when to come back (`Retry-After`), and leaves other tenants alone. The
stack runs on a clock the test moves, set at the start of a limiter window,
so which creates fall in which window is decided by the test, not by timing.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devtools.samples import WIZARD_ANSWERS
from shared.adapters.firestore_budget import ADMISSION, FirestoreBudgetCounter
from shared.admission import Admission, Limits
from shared.engine.testing import FakeClock
from shared.errors import TenantQuotaExceeded, TenantRateLimited
from tests.helpers.stack import Stack, create_project

PROMPT, COMPLETION = 10, 20  # what the test server reports for every call
PRICES = {"test-model": {"inputPerMillion": 1000, "outputPerMillion": 2000}}  # $0.05 a call
BRAINSTORM = {"prompt": "A youth exchange about climate and art", "seedCount": 5}


def window_clock(stack: Stack) -> FakeClock:
    """A clock frozen at the start of a limiter window, today."""
    seconds = stack.services.admission.window_seconds or 60.0
    now = datetime.now(UTC).timestamp()
    start = math.floor(now / seconds) * seconds + 0.001
    clock = FakeClock(datetime.fromtimestamp(start, UTC))
    stack.use_clock(clock)
    return clock


def count(stack: Stack, collection: str) -> int:
    aggregation: Any = stack.services.db.collection(collection).count()
    return int(aggregation.get()[0][0].value)


def documents(stack: Stack) -> dict[str, int]:
    return {
        name: count(stack, name)
        for name in ("brainstormSessions", "projectSessions", "programmes", "runs")
    }


class TestCreatesPerMinute:
    @pytest.fixture
    def stack_env(self) -> dict[str, str]:
        # 20 a minute: windows of 6.7 s admitting 2 creates each.
        return {"TENANT_CREATES_PER_MINUTE": "20"}

    def test_a_flood_gets_429_with_retry_after_and_writes_nothing_past_the_limit(
        self, stack: Stack
    ):
        window_clock(stack)
        burst = stack.services.admission.burst
        assert burst == 2

        answers = [stack.post("/v1/brainstorm-sessions", BRAINSTORM) for _ in range(6)]

        assert [a.status_code for a in answers] == [202, 202, 429, 429, 429, 429]
        refused = answers[2]
        assert refused.get_json()["error"]["code"] == "rate_limited"
        assert "TENANT_CREATES_PER_MINUTE=20" in refused.get_json()["error"]["message"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 7
        assert documents(stack) == {
            "brainstormSessions": 2,
            "projectSessions": 0,
            "programmes": 0,
            "runs": 2,
        }

    def test_the_next_window_admits_again(self, stack: Stack):
        clock = window_clock(stack)
        for _ in range(3):
            stack.post("/v1/brainstorm-sessions", BRAINSTORM)

        clock.advance(stack.services.admission.window_seconds or 0)
        again = stack.post("/v1/brainstorm-sessions", BRAINSTORM)

        assert again.status_code == 202, again.get_json()
        assert count(stack, "runs") == 3

    def test_every_create_route_counts_against_the_same_limit(self, stack: Stack):
        window_clock(stack)
        stack.post("/v1/brainstorm-sessions", BRAINSTORM)
        stack.post("/v1/project-sessions", WIZARD_ANSWERS)

        refused = stack.post("/v1/project-sessions", WIZARD_ANSWERS)

        assert refused.status_code == 429
        assert count(stack, "projectSessions") == 1

    def test_a_programme_over_the_limit_is_refused_and_its_project_untouched(self, stack: Stack):
        window_clock(stack)
        project_id = create_project(stack)
        stack.post("/v1/brainstorm-sessions", BRAINSTORM)
        project = stack.get(f"/v1/projects/{project_id}").get_json()

        refused = stack.post(f"/v1/projects/{project_id}/programme", {})

        assert refused.status_code == 429
        assert refused.get_json()["error"]["code"] == "rate_limited"
        assert count(stack, "programmes") == 0
        assert stack.get(f"/v1/projects/{project_id}").get_json() == project

    def test_another_tenant_has_its_own_limit(self, stack: Stack):
        window_clock(stack)
        for _ in range(3):
            stack.post("/v1/brainstorm-sessions", BRAINSTORM)

        other = stack.post("/v1/brainstorm-sessions", BRAINSTORM, tenant="org-b")

        assert other.status_code == 202

    def test_a_retried_create_with_its_idempotency_key_gets_its_first_answer(self, stack: Stack):
        window_clock(stack)
        first = stack.post("/v1/brainstorm-sessions", BRAINSTORM, **{"Idempotency-Key": "k-1"})
        stack.post("/v1/brainstorm-sessions", BRAINSTORM)

        retried = stack.post("/v1/brainstorm-sessions", BRAINSTORM, **{"Idempotency-Key": "k-1"})

        assert retried.status_code == 202, retried.get_json()
        assert retried.get_json() == first.get_json()
        assert count(stack, "runs") == 2

    def test_usage_reports_the_limit(self, stack: Stack):
        report = stack.get(f"/v1/usage?from={today()}&to={today()}").get_json()

        assert report["limits"] == {"createsPerMinute": 20}


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def use_up_a_day(stack: Stack) -> None:
    """One brainstorm run to its end: one model call, 30 tokens, $0.05."""
    stack.create_brainstorm()
    stack.deliver_all()


class TestDailyTokenLimit:
    @pytest.fixture
    def stack_env(self) -> dict[str, str]:
        # Read the day at every create (the default reuses it for 10 s).
        return {
            "TENANT_DAILY_TOKEN_LIMIT": "30",
            "TENANT_QUOTA_CACHE_SECONDS": "0",
            "LLM_PRICES": json.dumps(PRICES),
        }

    def test_a_create_over_the_days_tokens_is_429_quota_exceeded_until_midnight_utc(
        self, stack: Stack
    ):
        use_up_a_day(stack)
        before = documents(stack)

        refused = stack.post("/v1/project-sessions", WIZARD_ANSWERS)

        error = refused.get_json()["error"]
        assert refused.status_code == 429
        assert error["code"] == "quota_exceeded"
        assert "TENANT_DAILY_TOKEN_LIMIT=30" in error["message"]
        midnight = datetime.combine(
            datetime.now(UTC).date() + timedelta(days=1), datetime.min.time(), UTC
        )
        assert midnight.isoformat() in error["message"]
        left = (midnight - datetime.now(UTC)).total_seconds()
        assert abs(int(refused.headers["Retry-After"]) - left) < 60
        assert documents(stack) == before

    def test_another_tenant_is_not_refused(self, stack: Stack):
        use_up_a_day(stack)

        other = stack.post("/v1/brainstorm-sessions", BRAINSTORM, tenant="org-b")

        assert other.status_code == 202

    def test_usage_reports_the_limit_and_what_is_left(self, stack: Stack):
        before = stack.get(f"/v1/usage?from={today()}&to={today()}").get_json()
        use_up_a_day(stack)

        after = stack.get(f"/v1/usage?from={today()}&to={today()}").get_json()

        assert before["limits"] == {"dailyTokens": 30}
        assert before["today"]["tokensLeft"] == 30
        assert after["today"]["totalTokens"] == 30
        assert after["today"]["tokensLeft"] == 0
        assert "costUsdLeft" not in after["today"]


class TestDailyCostLimit:
    @pytest.fixture
    def stack_env(self) -> dict[str, str]:
        # Two calls' worth: the second run starts (under), the third is refused.
        return {
            "TENANT_DAILY_COST_LIMIT_USD": "0.1",
            "TENANT_QUOTA_CACHE_SECONDS": "0",
            "LLM_PRICES": json.dumps(PRICES),
        }

    def test_a_create_over_the_days_cost_is_refused_and_runs_started_before_finish(
        self, stack: Stack
    ):
        use_up_a_day(stack)
        started = stack.create_brainstorm()  # $0.05 spent of $0.10: admitted
        stack.deliver_all()

        refused = stack.post("/v1/brainstorm-sessions", BRAINSTORM)

        assert stack.run_view(started["runId"])["status"] == "COMPLETED"
        assert refused.status_code == 429
        assert refused.get_json()["error"]["code"] == "quota_exceeded"
        assert "TENANT_DAILY_COST_LIMIT_USD=0.1" in refused.get_json()["error"]["message"]


class TestQuotaWarning:
    @pytest.fixture
    def stack_env(self) -> dict[str, str]:
        return {
            "TENANT_DAILY_COST_LIMIT_USD": "0.12",
            "TENANT_QUOTA_CACHE_SECONDS": "0",
            "LLM_PRICES": json.dumps(PRICES),
        }

    def test_a_warning_is_logged_once_past_80_percent(
        self, stack: Stack, caplog: pytest.LogCaptureFixture
    ):
        use_up_a_day(stack)  # $0.05 of $0.12
        use_up_a_day(stack)  # $0.10: past 80%, under the limit
        with caplog.at_level(logging.WARNING):
            admitted = [stack.post("/v1/brainstorm-sessions", BRAINSTORM) for _ in range(2)]

        warnings = [r for r in caplog.records if r.getMessage() == "tenant daily quota nearly used"]
        assert [a.status_code for a in admitted] == [202, 202]
        assert len(warnings) == 1
        assert warnings[0].__dict__["tenantId"] == "org-a"
        assert warnings[0].__dict__["limit"] == "TENANT_DAILY_COST_LIMIT_USD"


# -- the limiter itself ---------------------------------------------------------------


class CountingCounter:
    """A `WindowCounter` in memory that counts the writes each document takes."""

    def __init__(self) -> None:
        self.totals: dict[str, int] = {}
        self.writes: dict[str, int] = {}

    def add(self, key: str, requests: int, tokens: int, expires_at: float) -> tuple[int, int]:
        self.totals[key] = self.totals.get(key, 0) + requests
        self.writes[key] = self.writes.get(key, 0) + 1
        return self.totals[key], 0


def admitted(admission: Admission, tenant: str = "org-a") -> bool:
    try:
        admission.admit(tenant)
    except TenantRateLimited:
        return False
    return True


def test_instances_share_one_limit_through_firestore(emptied_firestore: Any):
    clock = FakeClock(datetime(2026, 11, 28, 12, 0, tzinfo=UTC))
    limits = Limits(creates_per_minute=60)  # windows of 6.7 s admitting 6
    instances = [
        Admission(
            limits,
            counter=FirestoreBudgetCounter(emptied_firestore, ADMISSION),
            usage=None,
            clock=clock,
        )
        for _ in range(3)
    ]

    taken = [admitted(instances[i % 3]) for i in range(12)]

    assert sum(taken) == 6


def test_a_large_limit_spreads_over_shards_so_no_counter_is_a_hot_document():
    clock = FakeClock(datetime(2026, 11, 28, 12, 0, tzinfo=UTC))
    counter = CountingCounter()
    admission = Admission(Limits(creates_per_minute=6000), counter=counter, usage=None, clock=clock)

    taken = 0
    for _ in range(6000):  # 100 creates a second for a minute
        taken += admitted(admission)
        clock.advance(0.01)

    window = admission.window_seconds or 0
    assert taken >= 0.85 * 6000
    assert max(counter.writes.values()) / window <= 5  # writes per document and second


class DayOfUsage:
    """A `DailyUsage` whose totals the test sets; counts the reads."""

    def __init__(self) -> None:
        self.tokens = 0
        self.reads = 0

    def day_totals(self, tenant_id: str, day: Any) -> tuple[int, float]:
        self.reads += 1
        return self.tokens, 0.0


def test_a_tenants_day_is_read_once_per_cache_period_and_read_again_after():
    clock = FakeClock(datetime(2026, 11, 28, 12, 0, tzinfo=UTC))
    usage = DayOfUsage()
    admission = Admission(
        Limits(daily_tokens=100), counter=None, usage=usage, clock=clock, quota_cache_seconds=10
    )

    for _ in range(5):
        admission.admit("org-a")
    usage.tokens = 100  # the day is used up meanwhile
    admission.admit("org-a")  # still the day as read
    reads_within = usage.reads
    clock.advance(10)

    with pytest.raises(TenantQuotaExceeded):
        admission.admit("org-a")
    assert (reads_within, usage.reads) == (1, 2)


def test_without_a_cache_period_every_create_reads_the_day():
    clock = FakeClock(datetime(2026, 11, 28, 12, 0, tzinfo=UTC))
    usage = DayOfUsage()
    admission = Admission(Limits(daily_tokens=100), counter=None, usage=usage, clock=clock)

    for _ in range(3):
        admission.admit("org-a")

    assert usage.reads == 3
