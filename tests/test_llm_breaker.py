"""The model breaker's semantics, on the in-memory store and a fake clock (fast), and on Firestore.

Two `CircuitBreaker`s on one store play two instances: what one learns, the
other learns through the store, never through a read on the happy path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from devtools.polling import until
from shared.adapters.firestore_breaker import FirestoreBreakerStore
from shared.llm.breaker import (
    Admission,
    BreakerSettings,
    BreakerStore,
    CircuitBreaker,
    MemoryBreakerStore,
    Observed,
)
from tests.helpers.llm_support import BrokenStore

START = 1_790_000_000.0
SETTINGS = BreakerSettings(failures=3, window_seconds=60, cooldown_seconds=30, probe_seconds=10)


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


class CountingStore:
    """Counts the exchanges a path costs (each is one Firestore commit in production)."""

    def __init__(self, inner: BreakerStore) -> None:
        self.inner = inner
        self.exchanges = 0

    def watch(self, provider: str, on_change: Callable[[Observed], None]) -> object:
        assert isinstance(self.inner, MemoryBreakerStore | FirestoreBreakerStore)
        return self.inner.watch(provider, on_change)

    def exchange(
        self,
        provider: str,
        *,
        counter: str | None,
        open_until: float,
        closed_after: float,
        expires_at: float,
    ) -> Observed:
        self.exchanges += 1
        return self.inner.exchange(
            provider,
            counter=counter,
            open_until=open_until,
            closed_after=closed_after,
            expires_at=expires_at,
        )


@pytest.fixture(params=["memory", pytest.param("firestore", marks=pytest.mark.emulators)])
def store(request: pytest.FixtureRequest) -> Iterator[CountingStore]:
    if request.param == "memory":
        yield CountingStore(MemoryBreakerStore())
        return
    yield CountingStore(FirestoreBreakerStore(request.getfixturevalue("emptied_firestore")))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _instance(store: BreakerStore, clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker(store, "primary-abc", SETTINGS, clock=clock)


def _fail(breaker: CircuitBreaker) -> None:
    admission = breaker.admit()
    assert admission is not Admission.SKIP
    breaker.failed(admission, "HTTP 500")


def test_calls_on_a_closed_breaker_cost_no_store_access(
    store: CountingStore, clock: FakeClock
) -> None:
    breaker = _instance(store, clock)

    for _ in range(50):
        admission = breaker.admit()
        assert admission is Admission.CALL
        breaker.succeeded(admission)

    assert store.exchanges == 0


def test_n_failures_within_the_window_open_it(store: CountingStore, clock: FakeClock) -> None:
    breaker = _instance(store, clock)

    for _ in range(SETTINGS.failures - 1):
        _fail(breaker)
        clock.now += 5
    assert breaker.admit() is Admission.CALL
    _fail(breaker)

    assert breaker.admit() is Admission.SKIP


def test_failures_spread_over_windows_do_not_open_it(
    store: CountingStore, clock: FakeClock
) -> None:
    breaker = _instance(store, clock)

    for _ in range(2 * SETTINGS.failures):
        _fail(breaker)
        clock.now += SETTINGS.window_seconds / (SETTINGS.failures - 1)

    assert breaker.admit() is Admission.CALL


def test_another_instance_learns_it_is_open_from_its_first_failure(
    store: CountingStore, clock: FakeClock
) -> None:
    first, second = _instance(store, clock), _instance(store, clock)
    for _ in range(SETTINGS.failures):
        _fail(first)

    # The second instance has not read anything: it calls once, fails, and
    # the failure's write tells it the breaker is open.
    _fail(second)

    assert second.admit() is Admission.SKIP


def test_skipped_for_the_whole_cool_down(store: CountingStore, clock: FakeClock) -> None:
    breaker = _instance(store, clock)
    for _ in range(SETTINGS.failures):
        _fail(breaker)
    opened = store.exchanges

    clock.now += SETTINGS.cooldown_seconds - 0.5
    skipped = [breaker.admit() for _ in range(20)]

    assert set(skipped) == {Admission.SKIP}
    assert store.exchanges == opened  # skipping costs nothing either


def test_after_the_cool_down_one_instance_probes_and_the_others_wait(
    store: CountingStore, clock: FakeClock
) -> None:
    first, second = _instance(store, clock), _instance(store, clock)
    for _ in range(SETTINGS.failures):
        _fail(first)
    _fail(second)  # the second one knows too

    clock.now += SETTINGS.cooldown_seconds + 1

    assert first.admit() is Admission.PROBE
    assert second.admit() is Admission.SKIP
    assert first.admit() is Admission.SKIP  # one probe at a time, within an instance too


def test_a_successful_probe_closes_it_for_every_instance(
    store: CountingStore, clock: FakeClock
) -> None:
    first, second = _instance(store, clock), _instance(store, clock)
    for _ in range(SETTINGS.failures):
        _fail(first)
    _fail(second)
    clock.now += SETTINGS.cooldown_seconds + 1
    probe = first.admit()
    assert second.admit() is Admission.SKIP

    first.succeeded(probe)
    clock.now += SETTINGS.probe_seconds  # the second one's wait for the probe ends

    assert first.admit() is Admission.CALL
    assert second.admit() is Admission.CALL


def test_a_failed_probe_opens_it_again_for_a_whole_cool_down(
    store: CountingStore, clock: FakeClock
) -> None:
    breaker = _instance(store, clock)
    for _ in range(SETTINGS.failures):
        _fail(breaker)
    clock.now += SETTINGS.cooldown_seconds + 1
    probe = breaker.admit()
    assert probe is Admission.PROBE

    breaker.failed(probe, "HTTP 500")
    clock.now += SETTINGS.cooldown_seconds - 1

    assert breaker.admit() is Admission.SKIP


def test_a_probe_that_hangs_lets_another_probe_after_its_slot(
    store: CountingStore, clock: FakeClock
) -> None:
    first, second = _instance(store, clock), _instance(store, clock)
    for _ in range(SETTINGS.failures):
        _fail(first)
    _fail(second)
    clock.now += SETTINGS.cooldown_seconds + 1
    assert first.admit() is Admission.PROBE  # and never reports back

    clock.now += SETTINGS.probe_seconds

    assert second.admit() is Admission.PROBE


def test_after_closing_failures_are_counted_afresh(store: CountingStore, clock: FakeClock) -> None:
    breaker = _instance(store, clock)
    for _ in range(SETTINGS.failures):
        _fail(breaker)
    clock.now += SETTINGS.cooldown_seconds + 1
    breaker.succeeded(breaker.admit())

    _fail(breaker)  # within the same failure window as the ones that opened it

    assert breaker.admit() is Admission.CALL


def test_a_store_that_is_down_never_stops_a_call_or_a_failure_report(clock: FakeClock) -> None:
    breaker = _instance(BrokenStore(), clock)

    for _ in range(SETTINGS.failures + 2):
        _fail(breaker)  # failures are reported without raising, and open nothing

    assert breaker.admit() is Admission.CALL


def test_with_the_store_down_a_probe_failure_still_opens_it_on_this_instance(
    store: CountingStore, clock: FakeClock
) -> None:
    breaker = _instance(store, clock)
    for _ in range(SETTINGS.failures):
        _fail(breaker)
    clock.now += SETTINGS.cooldown_seconds + 1
    breaker.store = BrokenStore()

    probe = breaker.admit()
    assert probe is Admission.PROBE  # it probes on its own
    breaker.failed(probe, "HTTP 500")

    assert breaker.admit() is Admission.SKIP


def test_a_watching_instance_skips_an_opened_model_without_calling_it_first(
    store: CountingStore, clock: FakeClock
) -> None:
    first, second = _instance(store, clock), _instance(store, clock)
    subscription = store.watch(second.provider, second.learn)
    try:
        for _ in range(SETTINGS.failures):
            _fail(first)

        assert until(lambda: second.open_until > 0)
        assert second.admit() is Admission.SKIP  # no failed call of its own needed
    finally:
        close = getattr(subscription, "close", None)
        if callable(close):
            close()


def test_a_watching_instance_hears_of_the_probe_that_closed_it(
    store: CountingStore, clock: FakeClock
) -> None:
    first, second = _instance(store, clock), _instance(store, clock)
    subscription = store.watch(second.provider, second.learn)
    try:
        for _ in range(SETTINGS.failures):
            _fail(first)
        clock.now += SETTINGS.cooldown_seconds + 1
        first.succeeded(first.admit())
        before = store.exchanges

        assert until(lambda: second.closed_after >= second.open_until > 0)
        assert second.admit() is Admission.CALL
        assert store.exchanges == before  # learnt from the watch, not by claiming a probe
    finally:
        close = getattr(subscription, "close", None)
        if callable(close):
            close()
