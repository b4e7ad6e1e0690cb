"""A circuit breaker per model provider, shared by every instance through a `BreakerStore`.

After `failures` provider failures of a model within one window of
`window_seconds`, every instance skips that model for `cooldown_seconds` and
goes straight to the next one (`shared.llm.failover`); once the cool-down has
passed, one call at a time (across instances) probes it, and a probe that
succeeds closes the breaker for everyone, one that fails opens it again.

The state lives in the store (Firestore in production,
`shared/adapters/firestore_breaker.py`), but the happy path never touches it:
an instance keeps what it last learned in memory and writes only when
something happens. Each write is one round trip that also returns the
shared state (the store raises `openUntil` and `closedAfter` with
max-transforms and counts with increments, so it needs no read), so:

- a failure costs one write, which returns the window's failure count and
  the breaker's `openUntil`: an instance that had not heard of the opening
  learns it from its first failure and skips the model from then on, so a
  broken provider costs each instance at most one failed call per cool-down;
  a store that can watch (`WatchableBreakerStore`: Firestore's snapshot
  listener on the state document, which changes only when the breaker opens
  or closes) tells every instance at once, so not even that one call is made;
- the call that reaches `failures` opens the breaker (a second write);
- after the cool-down, an instance claims the probe with one write (a
  counter per cool-down and probe slot: the first claimer probes), which
  also tells it if another instance's probe has closed or re-opened it;
- the probe's success writes `closedAfter` (the opening it ends); its
  failure re-opens at once.

Timestamps are epoch seconds; `clock` is injectable so the semantics are
tested on the in-memory store with a fake clock.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "Admission",
    "BreakerSettings",
    "BreakerStore",
    "CircuitBreaker",
    "MemoryBreakerStore",
    "Observed",
    "WatchableBreakerStore",
    "provider_key",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Observed:
    """The shared state after one exchange with the store."""

    # The counter's value after the increment (0 when nothing was counted).
    count: int
    # The breaker is open until then (0: never opened).
    open_until: float
    # The opening (its `open_until`) that a successful probe ended.
    closed_after: float


class BreakerStore(Protocol):
    def exchange(
        self,
        provider: str,
        *,
        counter: str | None,
        open_until: float,
        closed_after: float,
        expires_at: float,
    ) -> Observed:
        """One atomic round trip on `provider`'s breaker.

        Raises the stored `open_until` and `closed_after` to at least the
        values given (0 leaves them), adds 1 to `counter` if one is named
        (a counter may be deleted after `expires_at`), and returns the values
        after these changes.
        """
        ...


class WatchableBreakerStore(BreakerStore, Protocol):
    def watch(self, provider: str, on_change: Callable[[Observed], None]) -> object:
        """Call `on_change` with `provider`'s state now and whenever it changes.

        Optional: a store with it tells every instance of an opening or a
        closing as it happens, for a read per change (never per call).
        """
        ...


class Admission(enum.Enum):
    """What an instance may do with a provider right now."""

    CALL = "call"  # closed: call it
    PROBE = "probe"  # half-open and this call is the probe
    SKIP = "skip"  # open, or half-open with another call probing


@dataclass(frozen=True)
class BreakerSettings:
    failures: int
    window_seconds: float
    cooldown_seconds: float
    # How long one probe may take before another call may probe (a probe
    # that hangs until its timeout must not keep the breaker half-open).
    probe_seconds: float


def provider_key(model: str, base_url: str | None) -> str:
    """A document id naming one model at one endpoint: readable, and distinct per endpoint."""
    readable = re.sub(r"[^A-Za-z0-9._-]", "-", model)[:60].strip(".") or "model"
    digest = hashlib.sha256(f"{base_url or ''}\x00{model}".encode()).hexdigest()[:10]
    return f"{readable}-{digest}"


class CircuitBreaker:
    """One provider's breaker as this instance sees it. Thread-safe."""

    def __init__(
        self,
        store: BreakerStore,
        provider: str,
        settings: BreakerSettings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.provider = provider
        self.settings = settings
        self.clock = clock
        self._lock = threading.Lock()
        # What this instance last learned from the store.
        self._open_until = 0.0
        self._closed_after = 0.0
        # While another call probes (here or elsewhere), skip until then.
        self._probe_busy_until = 0.0
        # The last failure this instance saw, for the reason a skip gives.
        self._last_error: str | None = None

    @property
    def open_until(self) -> float:
        """Until when this instance knows the provider to be skipped (0: not open)."""
        with self._lock:
            return self._open_until

    @property
    def closed_after(self) -> float:
        """The opening (its `open_until`) this instance knows a probe to have closed."""
        with self._lock:
            return self._closed_after

    @property
    def last_error(self) -> str | None:
        """The last failure of this provider that this instance saw (None: none)."""
        with self._lock:
            return self._last_error

    def learn(self, seen: Observed) -> None:
        """Take in the shared state from the store's watch (see `WatchableBreakerStore`)."""
        with self._lock:
            self._open_until = max(self._open_until, seen.open_until)
            self._closed_after = max(self._closed_after, seen.closed_after)

    def admit(self) -> Admission:
        """May a call go to this provider now? Free (no store access) unless half-open."""
        now = self.clock()
        with self._lock:
            if now < self._open_until:
                return Admission.SKIP
            if self._closed_after >= self._open_until:
                return Admission.CALL
            if now < self._probe_busy_until:
                return Admission.SKIP
            opening = self._open_until
        # Half-open as far as this instance knows: claim the probe slot.
        slot = int(now // self.settings.probe_seconds)
        seen = self._exchange(counter=f"probe-{int(opening)}-{slot}", now=now)
        with self._lock:
            if now < self._open_until:
                return Admission.SKIP
            if self._closed_after >= self._open_until:
                return Admission.CALL
            # Whoever claimed the slot first probes; the others skip until it ends.
            # Without the store, this instance probes on its own.
            self._probe_busy_until = (slot + 1) * self.settings.probe_seconds
            return Admission.PROBE if seen is None or seen.count == 1 else Admission.SKIP

    def succeeded(self, admission: Admission) -> None:
        """A call answered. Only a probe's success costs a write: it closes the breaker."""
        if admission is not Admission.PROBE:
            return
        with self._lock:
            opening = self._open_until
            self._probe_busy_until = 0.0
        self._exchange(closed_after=opening, now=self.clock())
        log.warning(
            "model breaker closed",
            extra={"model": self.provider, "reason": "the probe call succeeded"},
        )

    def failed(self, admission: Admission, error: str) -> None:
        """A call failed in a way the provider is to blame for (see `shared.llm.failover`)."""
        now = self.clock()
        with self._lock:
            self._last_error = error
        if admission is Admission.PROBE:
            with self._lock:
                self._probe_busy_until = 0.0
            self._open(now, "the probe call failed")
            return
        with self._lock:
            generation = int(self._closed_after)
        window = int(now // self.settings.window_seconds)
        seen = self._exchange(counter=f"failures-{generation}-{window}", now=now)
        if seen is None:
            return  # the store is down: nothing is counted (the call still fails over)
        if seen.count >= self.settings.failures and now >= seen.open_until:
            self._open(now, f"{seen.count} failures within {self.settings.window_seconds:g} s")

    def released(self, admission: Admission) -> None:
        """A probe ended without a verdict (a rate limit): the next slot probes again."""
        if admission is Admission.PROBE:
            with self._lock:
                self._probe_busy_until = 0.0

    def _open(self, now: float, why: str) -> None:
        until = now + self.settings.cooldown_seconds
        self._exchange(open_until=until, now=now)
        log.warning(
            "model breaker opened",
            extra={
                "model": self.provider,
                "reason": f"{why}; skipped for {self.settings.cooldown_seconds:g} s",
            },
        )

    def _exchange(
        self,
        *,
        now: float,
        counter: str | None = None,
        open_until: float = 0.0,
        closed_after: float = 0.0,
    ) -> Observed | None:
        """One exchange with the store; None if the store failed.

        A store that fails (Firestore unavailable) must never stop a call
        from failing over: the error is logged, this instance keeps what it
        would have written, and the caller goes on without shared state.
        """
        # Counters outlive their window by a little, for a late reader's sake.
        longest = max(self.settings.window_seconds, self.settings.cooldown_seconds)
        try:
            seen = self.store.exchange(
                self.provider,
                counter=counter,
                open_until=open_until,
                closed_after=closed_after,
                expires_at=now + 2 * longest + self.settings.probe_seconds,
            )
        except Exception:
            log.warning(
                "model breaker state unavailable", exc_info=True, extra={"model": self.provider}
            )
            with self._lock:
                self._open_until = max(self._open_until, open_until)
                self._closed_after = max(self._closed_after, closed_after)
            return None
        with self._lock:
            self._open_until = max(self._open_until, seen.open_until)
            self._closed_after = max(self._closed_after, seen.closed_after)
        return seen


class MemoryBreakerStore:
    """`WatchableBreakerStore` in memory: one process's instances share it (tests, benchmarks)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.state: dict[str, tuple[float, float]] = {}
        self.counters: dict[tuple[str, str], int] = {}
        # Exchanges made, to check what a path costs.
        self.exchanges = 0
        self._watchers: dict[str, list[Callable[[Observed], None]]] = {}

    def watch(self, provider: str, on_change: Callable[[Observed], None]) -> object:
        with self._lock:
            self._watchers.setdefault(provider, []).append(on_change)
            stored_open, stored_closed = self.state.get(provider, (0.0, 0.0))
        on_change(Observed(count=0, open_until=stored_open, closed_after=stored_closed))
        return on_change

    def exchange(
        self,
        provider: str,
        *,
        counter: str | None,
        open_until: float,
        closed_after: float,
        expires_at: float,
    ) -> Observed:
        with self._lock:
            self.exchanges += 1
            before = self.state.get(provider, (0.0, 0.0))
            stored_open = max(before[0], open_until)
            stored_closed = max(before[1], closed_after)
            self.state[provider] = (stored_open, stored_closed)
            count = 0
            if counter is not None:
                count = self.counters.get((provider, counter), 0) + 1
                self.counters[(provider, counter)] = count
            watchers = (
                list(self._watchers.get(provider, ())) if self.state[provider] != before else []
            )
        seen = Observed(count=count, open_until=stored_open, closed_after=stored_closed)
        for on_change in watchers:
            on_change(Observed(count=0, open_until=stored_open, closed_after=stored_closed))
        return seen
