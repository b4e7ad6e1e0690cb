"""One LLM budget for the whole deployment: LLM_REQUESTS_PER_MINUTE and LLM_TOKENS_PER_MINUTE.

Every instance counts its calls in shared counters (Firestore in production,
`BudgetCounter`), so the limit holds across instances: the windowed, sharded
counters of `shared.windowed` (why windows, and how many shards).

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
import time
from collections.abc import Callable
from dataclasses import dataclass

from shared.errors import RateLimited
from shared.windowed import WindowCounter, WindowedLimit, Windows

__all__ = ["IN_PROCESS_WAIT_SECONDS", "BudgetCounter", "LLMBudget", "Windows"]

log = logging.getLogger(__name__)

# A call waits in its worker thread up to this long for budget (or for a
# provider's short Retry-After); a longer wait hands the run back instead.
IN_PROCESS_WAIT_SECONDS = 10.0
# Token windows hold at least this many tokens (a few calls' worth), so one
# call's tokens are not most of a window's quota; shards for tokens assume
# calls of about TOKENS_PER_CALL.
MIN_TOKEN_QUOTA = 4000
TOKENS_PER_CALL = 1000

# The counters the budget takes from (Firestore in production).
BudgetCounter = WindowCounter


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
            else WindowedLimit.of(requests_per_minute, requests_per_minute / 60)
        )
        # Two writes per call for tokens: the estimate, then the rest.
        self.tokens = (
            None
            if tokens_per_minute is None
            else WindowedLimit.of(
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
        self,
        limit: WindowedLimit,
        kind: str,
        now: float,
        requests: int,
        tokens: int,
        expires: float,
    ) -> str | None:
        """Count the call on a shard of the current window with room left; None if none has."""

        def add(key: str, amount: int) -> int:
            counted = self.counter.add(key, requests, tokens, expires)
            return counted[0] if kind == "requests" else counted[1]

        amount = requests if kind == "requests" else tokens
        return limit.take(add, f"{self.scope}{kind}", now, amount)

    def _next_window(self, now: float) -> float:
        return max(
            limit.next_window(now) for limit in (self.requests, self.tokens) if limit is not None
        )


@dataclass(frozen=True)
class _Ticket:
    tokens_key: str | None
    expires_at: float
