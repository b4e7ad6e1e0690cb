"""One LLM budget for the whole deployment: LLM_REQUESTS_PER_MINUTE and LLM_TOKENS_PER_MINUTE.

Every instance counts its calls in shared counters (Firestore in production,
`BudgetCounter`), so the limit holds across instances. The minute is cut into
`n` short windows with a quota of `limit // (n + 1)` each: any 60 s overlap
at most `n + 1` windows, so never more than `limit` calls start in any 60 s
(a plain per-minute window would allow twice that across its boundary),
while the budget still spends `n / (n + 1)` of the limit; `n` is chosen to
waste the least. Each window's count is spread over shards so that no
document takes more than about one write a second, as Firestore sustains.

A call takes a permit with one counter increment (no read, no transaction):
the increment returns the new total, and a total over the shard's quota
means no permit. Tokens are counted the same way, with an estimate before
the call and the difference once the answer's usage is known; a call over
budget waits for the next window in process if that is soon (under
`IN_PROCESS_WAIT_SECONDS`), else raises `RateLimited` so the engine hands the
run back until then without spending an attempt.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from shared.errors import RateLimited

log = logging.getLogger(__name__)

# A call waits in its worker thread up to this long for budget (or for a
# provider's short Retry-After); a longer wait hands the run back instead.
IN_PROCESS_WAIT_SECONDS = 10.0
# Shards a call tries in one window before it counts the window as spent
# (each try is a write).
SHARD_TRIES = 3
# Writes per second one counter document should take at most.
WRITES_PER_SHARD_SECOND = 1.0
MAX_WINDOWS_PER_MINUTE = 60
# Token windows hold at least this many tokens (a few calls' worth), so one
# call's tokens are not most of a window's quota; shards for tokens assume
# calls of about TOKENS_PER_CALL.
MIN_TOKEN_QUOTA = 4000
TOKENS_PER_CALL = 1000


class BudgetCounter(Protocol):
    def add(self, key: str, requests: int, tokens: int, expires_at: float) -> tuple[int, int]:
        """Add to one shard's counters atomically; (requests, tokens) after the addition.

        `expires_at` (epoch seconds) says when the counter may be deleted.
        """


@dataclass(frozen=True)
class Windows:
    """How the minute is cut: `count` windows of `seconds`, `quota` calls (or tokens) each."""

    count: int
    quota: int

    @property
    def seconds(self) -> float:
        return 60.0 / self.count

    @classmethod
    def for_limit(cls, per_minute: int, min_quota: int = 1) -> Windows:
        best = cls(count=1, quota=max(1, per_minute // 2))
        for count in range(1, MAX_WINDOWS_PER_MINUTE + 1):
            quota = per_minute // (count + 1)
            if quota >= min_quota and count * quota > best.count * best.quota:
                best = cls(count=count, quota=quota)
        return best


@dataclass(frozen=True)
class _Limit:
    windows: Windows
    shards: int

    @classmethod
    def of(cls, per_minute: int, writes_per_second: float, min_quota: int = 1) -> _Limit:
        windows = Windows.for_limit(per_minute, min_quota)
        wanted = math.ceil(writes_per_second / WRITES_PER_SHARD_SECOND)
        return cls(windows=windows, shards=max(1, min(windows.quota, wanted)))

    def shard_quota(self, shard: int) -> int:
        """The window's quota split over the shards (the first ones take the remainder)."""
        base, extra = divmod(self.windows.quota, self.shards)
        return base + (1 if shard < extra else 0)


class LLMBudget:
    """Implements `CallBudget` (shared.llm.interface) on a shared `BudgetCounter`."""

    def __init__(
        self,
        counter: BudgetCounter,
        *,
        requests_per_minute: int | None,
        tokens_per_minute: int | None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        scope: str = "",
    ) -> None:
        if requests_per_minute is None and tokens_per_minute is None:
            raise ValueError("an LLM budget needs a requests or a tokens limit")
        self.counter = counter
        # Prefixes the counters' keys: each model of LLM_FALLBACKS has its own
        # budget (providers limit each model separately).
        self.scope = scope
        self.clock = clock
        self.sleep = sleep
        self.requests = (
            None
            if requests_per_minute is None
            else _Limit.of(requests_per_minute, requests_per_minute / 60)
        )
        # Two writes per call for tokens: the estimate, then the rest.
        self.tokens = (
            None
            if tokens_per_minute is None
            else _Limit.of(
                tokens_per_minute, 2 * tokens_per_minute / TOKENS_PER_CALL / 60, MIN_TOKEN_QUOTA
            )
        )

    def before_call(self, estimated_tokens: int) -> object:
        """Take a permit for one call; waits briefly or raises `RateLimited`.

        Returns a ticket for `after_call`.
        """
        waited = 0.0
        while True:
            now = self.clock()
            ticket = self._try(now, estimated_tokens)
            if ticket is not None:
                return ticket
            # Just past the boundary, so float rounding cannot land in the old window.
            wait = self._next_window(now) - now + 0.001
            if waited + wait > IN_PROCESS_WAIT_SECONDS:
                raise RateLimited(
                    "the deployment's LLM budget (LLM_REQUESTS_PER_MINUTE / "
                    f"LLM_TOKENS_PER_MINUTE) is spent; waiting {wait:.0f} s",
                    wait_seconds=wait,
                )
            self.sleep(wait)
            waited += wait

    def after_call(self, ticket: object, estimated_tokens: int, actual_tokens: int) -> None:
        """Count the tokens the answer really cost (over the estimate) in the call's window."""
        if self.tokens is None or not isinstance(ticket, _Ticket) or ticket.tokens_key is None:
            return
        difference = actual_tokens - estimated_tokens
        if difference:
            try:
                self.counter.add(ticket.tokens_key, 0, difference, ticket.expires_at)
            except Exception:
                log.exception("could not count an LLM call's tokens in the budget")

    def _try(self, now: float, estimated_tokens: int) -> _Ticket | None:
        expires = now + 3 * 60
        requests_key = tokens_key = None
        if self.requests is not None:
            requests_key = self._take(self.requests, "requests", now, 1, 0, expires)
            if requests_key is None:
                return None
        if self.tokens is not None:
            tokens_key = self._take(self.tokens, "tokens", now, 0, estimated_tokens, expires)
            if tokens_key is None:
                return None
        return _Ticket(tokens_key=tokens_key, expires_at=expires)

    def _take(
        self, limit: _Limit, kind: str, now: float, requests: int, tokens: int, expires: float
    ) -> str | None:
        """Count the call on a shard of the current window with room left; None if none has."""
        window = int(now // limit.windows.seconds)
        shards = list(range(limit.shards))
        # A random start spreads instances over the shards.
        start = secrets.randbelow(limit.shards)
        for shard in (shards[start:] + shards[:start])[:SHARD_TRIES]:
            key = f"{self.scope}{kind}-{window}-{shard}"
            counted = self.counter.add(key, requests, tokens, expires)
            amount, used = (requests, counted[0]) if kind == "requests" else (tokens, counted[1])
            # The window's first call passes even if it alone is over the quota.
            if used <= limit.shard_quota(shard) or used == amount:
                return key
        return None

    def _next_window(self, now: float) -> float:
        ends = [
            (int(now // limit.windows.seconds) + 1) * limit.windows.seconds
            for limit in (self.requests, self.tokens)
            if limit is not None
        ]
        return max(ends)


@dataclass(frozen=True)
class _Ticket:
    tokens_key: str | None
    expires_at: float
