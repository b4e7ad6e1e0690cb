"""One LLM budget for the whole deployment (LLM_REQUESTS_PER_MINUTE / LLM_TOKENS_PER_MINUTE).

The budget's arithmetic runs on an in-memory counter and a fake clock; the
same budget on the Firestore counter (the emulator) shows that instances
share it. Callers that are refused wait for the next window in process when
it is soon, else get `RateLimited` and come back when it says (as a run
handed back by the engine does).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import pytest

from shared.adapters.firestore_budget import FirestoreBudgetCounter
from shared.errors import RateLimited
from shared.llm.budget import IN_PROCESS_WAIT_SECONDS, BudgetCounter, LLMBudget, Windows

START = 1_790_000_000.0  # epoch seconds, the fake clock's start


class MemoryCounter:
    def __init__(self) -> None:
        self.counts: dict[str, list[int]] = {}
        self.adds: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, key: str, requests: int, tokens: int, expires_at: float) -> tuple[int, int]:
        with self._lock:
            count = self.counts.setdefault(key, [0, 0])
            count[0] += requests
            count[1] += tokens
            self.adds[key] += 1
            return count[0], count[1]


class FakeTime:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(params=["memory", pytest.param("firestore", marks=pytest.mark.emulators)])
def counter(request: pytest.FixtureRequest) -> Iterator[BudgetCounter]:
    if request.param == "memory":
        yield MemoryCounter()
        return
    yield FirestoreBudgetCounter(request.getfixturevalue("emptied_firestore"))


def _budget(counter: BudgetCounter, time: FakeTime, **limits: int) -> LLMBudget:
    return LLMBudget(
        counter,
        requests_per_minute=limits.get("requests"),
        tokens_per_minute=limits.get("tokens"),
        clock=time,
        sleep=time.sleep,
    )


def _most_in_any_minute(starts: list[float]) -> int:
    starts = sorted(starts)
    return max(sum(1 for t in starts if s <= t < s + 60) for s in starts)


def test_twenty_runs_on_two_instances_start_at_most_twelve_calls_in_any_minute(
    counter: BudgetCounter,
):
    """Each run needs one call; a refused run is handed back and comes back when told."""
    time = FakeTime()
    instances = [_budget(counter, time, requests=12), _budget(counter, time, requests=12)]
    ready = {f"run-{i}": START + i * 0.5 for i in range(20)}  # 20 sessions, created at once
    starts: dict[str, float] = {}
    while ready:
        run_id, at = min(ready.items(), key=lambda item: item[1])
        time.now = max(time.now, at)
        try:
            instances[len(starts) % 2].before_call(estimated_tokens=100)
        except RateLimited as limited:
            ready[run_id] = time.now + max(limited.wait_seconds, 0.001)
            continue
        starts[run_id] = time.now
        del ready[run_id]

    assert len(starts) == 20  # all of them ran
    assert _most_in_any_minute(list(starts.values())) <= 12
    assert max(starts.values()) - START < 3 * 60  # and the budget was spent, not wasted


def test_a_caller_waits_in_process_for_a_window_that_opens_soon():
    time = FakeTime()
    budget = _budget(MemoryCounter(), time, requests=60)  # a call a second
    budget.before_call(0)
    before = time.now

    budget.before_call(0)  # the window is spent: sleeps into the next one

    assert 0 < time.now - before <= IN_PROCESS_WAIT_SECONDS


def test_a_spent_token_budget_refuses_calls_until_its_window_passes():
    time = FakeTime()
    budget = _budget(MemoryCounter(), time, tokens=10_000)
    window = Windows.for_limit(10_000, 4000)
    ticket = budget.before_call(estimated_tokens=100)
    budget.after_call(ticket, estimated_tokens=100, actual_tokens=window.quota + 1)

    with pytest.raises(RateLimited) as refused:
        budget.before_call(estimated_tokens=100)

    assert refused.value.wait_seconds > IN_PROCESS_WAIT_SECONDS
    time.sleep(refused.value.wait_seconds)
    budget.before_call(estimated_tokens=100)


def test_a_large_budget_is_spread_over_shards_so_no_counter_is_a_hot_document():
    time = FakeTime()
    counter = MemoryCounter()
    budget = _budget(counter, time, requests=6000)  # 100 calls a second
    for _ in range(6000):
        budget.before_call(0)
        time.sleep(0.01)

    # Each counter lives for one window (a second here) and takes a handful
    # of writes in it: its quota's calls and a few refused tries.
    per_document_and_second = max(counter.adds.values()) / Windows.for_limit(6000).seconds
    assert per_document_and_second <= 5
    assert len(counter.adds) > 1000  # windows x shards


def test_windows_never_allow_more_than_the_limit_in_any_sixty_seconds():
    for limit in (1, 2, 12, 100, 601, 5000, 90_000):
        windows = Windows.for_limit(limit)
        assert windows.quota * (windows.count + 1) <= max(limit, 2 * windows.quota)
        assert windows.quota * windows.count >= limit // 2
