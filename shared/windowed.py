"""Per-minute limits shared by every instance: windowed counters spread over shards.

Used by the LLM budget (`shared.llm.budget`) and by the tenants' admission
limits (`shared.admission`). A limit of `L` per minute cuts the minute into
`n` short windows with a quota of `L // (n + 1)` each: any 60 s overlap at
most `n + 1` windows, so never more than `L` are taken in any 60 s (a plain
per-minute window would allow twice that across its boundary), while the
limit still spends `n / (n + 1)` of `L`; `n` is chosen to waste the least.
Each window's count is spread over shards so that no counter document takes
more than about one write a second, as Firestore sustains.

Taking from a limit is one counter increment (no read, no transaction): the
increment returns the new total, and a total over the shard's quota means
no permit.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

# Shards a take tries in one window before it counts the window as spent
# (each try is a write).
SHARD_TRIES = 3
# Writes per second one counter document should take at most.
WRITES_PER_SHARD_SECOND = 1.0
MAX_WINDOWS_PER_MINUTE = 60


class WindowCounter(Protocol):
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
class WindowedLimit:
    """A per-minute limit: its windows and how many shards each window's count uses."""

    windows: Windows
    shards: int

    @classmethod
    def of(cls, per_minute: int, writes_per_second: float, min_quota: int = 1) -> WindowedLimit:
        windows = Windows.for_limit(per_minute, min_quota)
        wanted = math.ceil(writes_per_second / WRITES_PER_SHARD_SECOND)
        return cls(windows=windows, shards=max(1, min(windows.quota, wanted)))

    def shard_quota(self, shard: int) -> int:
        """The window's quota split over the shards (the first ones take the remainder)."""
        base, extra = divmod(self.windows.quota, self.shards)
        return base + (1 if shard < extra else 0)

    def window(self, now: float) -> int:
        return int(now // self.windows.seconds)

    def next_window(self, now: float) -> float:
        """When the window after the one holding `now` starts (epoch seconds)."""
        return (self.window(now) + 1) * self.windows.seconds

    def take(
        self,
        add: Callable[[str, int], int],
        prefix: str,
        now: float,
        amount: int,
        *,
        randbelow: Callable[[int], int] = secrets.randbelow,
    ) -> str | None:
        """Count `amount` on a shard of the current window with room left; its key, or None.

        `add(key, amount)` increments one counter and returns its new total.
        The window's first taker passes even if it alone is over the quota.
        """
        window = self.window(now)
        shards = list(range(self.shards))
        # A random start spreads instances over the shards.
        start = randbelow(self.shards)
        for shard in (shards[start:] + shards[:start])[:SHARD_TRIES]:
            key = f"{prefix}-{window}-{shard}"
            used = add(key, amount)
            if used <= self.shard_quota(shard) or used == amount:
                return key
        return None
