"""Trigger events and the tenant's admission limits: over the rate they wait, over the quota no.

A burst from a backend over TENANT_CREATES_PER_MINUTE is not lost: each
event over the limit is answered 500 (Pub/Sub delivers it again after its
backoff) and writes nothing; as windows open the events are admitted and
every one completes, once. The stack runs on a clock the test moves, so
which deliveries fall in which window is the test's decision.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.engine.testing import FakeClock
from tests.helpers.stack import Stack

BRAINSTORM = "brainstorm.generate-seeds"
DATA = {"prompt": "A youth exchange about climate and street art", "seedCount": 5}
EVENTS = 7


def window_clock(stack: Stack) -> FakeClock:
    seconds = stack.services.admission.window_seconds or 60.0
    start = math.floor(datetime.now(UTC).timestamp() / seconds) * seconds + 0.001
    clock = FakeClock(datetime.fromtimestamp(start, UTC))
    stack.use_clock(clock)
    return clock


def count(stack: Stack, collection: str) -> int:
    aggregation: Any = stack.services.db.collection(collection).count()
    return int(aggregation.get()[0][0].value)


class TestCreatesPerMinute:
    @pytest.fixture
    def stack_env(self) -> dict[str, str]:
        # 20 a minute: windows of 6.7 s admitting 2 creates each.
        return {"TENANT_CREATES_PER_MINUTE": "20"}

    def test_a_burst_over_the_limit_is_redelivered_and_every_event_completes_once(
        self, stack: Stack
    ):
        clock = window_clock(stack)
        window = stack.services.admission.window_seconds or 0
        for i in range(EVENTS):
            stack.publish_event(
                {"name": BRAINSTORM, "data": DATA, "id": f"evt-{i}"}, tenantId="org-a"
            )
        pending = stack.pull_events()
        assert len(pending) == EVENTS

        first = [stack.push_event(m) for m in pending]
        nacked = [m for m, d in zip(pending, first, strict=True) if d.status >= 500]
        assert [d.status < 300 for d in first].count(True) == 2
        assert len(nacked) == EVENTS - 2
        assert count(stack, "runs") == 2  # a refused event wrote nothing
        assert count(stack, "brainstormSessions") == 2

        rounds = 0
        while nacked:  # Pub/Sub's redeliveries, a window later each time
            rounds += 1
            clock.advance(window)
            nacked = [m for m in nacked if stack.push_event(m).status >= 500]
        stack.deliver_all(rounds=4 * EVENTS)

        runs = stack.get("/v1/runs?source=trigger&pageSize=50").get_json()["runs"]
        assert rounds == math.ceil((EVENTS - 2) / 2)
        assert sorted(r["eventId"] for r in runs) == sorted(f"evt-{i}" for i in range(EVENTS))
        assert {r["status"] for r in runs} == {"COMPLETED"}
        assert count(stack, "brainstormSessions") == EVENTS
        assert not [r for r in stack.results() if r.get("status") == "REJECTED"]

    def test_a_redelivered_event_over_the_limit_is_acknowledged_as_already_started(
        self, stack: Stack
    ):
        window_clock(stack)
        stack.publish_event({"name": BRAINSTORM, "data": DATA, "id": "evt-a"}, tenantId="org-a")
        stack.publish_event({"name": BRAINSTORM, "data": DATA, "id": "evt-b"}, tenantId="org-a")
        first, second = stack.pull_events()
        stack.push_event(first)
        stack.push_event(second)  # the window is spent now

        again = stack.push_event(first)

        assert again.status < 300
        assert count(stack, "runs") == 2


class TestDailyQuota:
    @pytest.fixture
    def stack_env(self) -> dict[str, str]:
        return {
            "TENANT_DAILY_TOKEN_LIMIT": "30",
            "TENANT_QUOTA_CACHE_SECONDS": "0",
            "LLM_PRICES": json.dumps({"test-model": {"inputPerMillion": 1, "outputPerMillion": 1}}),
        }

    def test_an_event_over_the_days_quota_is_rejected_and_writes_nothing(self, stack: Stack):
        stack.create_brainstorm()
        stack.deliver_all()  # 30 tokens: the day's limit
        before = {name: count(stack, name) for name in ("runs", "brainstormSessions", "usage")}
        stack.results()

        stack.publish_event({"name": BRAINSTORM, "data": DATA, "id": "evt-q"}, tenantId="org-a")
        [delivery] = stack.deliver_events()

        assert delivery.status < 300
        [result] = [r for r in stack.results() if r.get("status") == "REJECTED"]
        assert (result["eventId"], result["reason"]) == ("evt-q", "quota_exceeded")
        assert "TENANT_DAILY_TOKEN_LIMIT=30" in result["error"]
        assert {name: count(stack, name) for name in before} == before
