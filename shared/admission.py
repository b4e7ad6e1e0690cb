"""Admission limits per tenant: how many runs it may create, and how much it may spend a day.

Every create (an HTTP create route or a trigger event) asks `Admission.admit`
before it writes anything:

- `TENANT_DAILY_TOKEN_LIMIT` / `TENANT_DAILY_COST_LIMIT_USD`: the tenant's
  usage today (UTC), summed over its usage documents by one aggregation
  query, which an instance reuses for `TENANT_QUOTA_CACHE_SECONDS` (a burst
  of creates costs one query, not one each; the limit may be overshot by
  what that window admits). Over a limit the create is refused (`TenantQuotaExceeded`, 429
  `quota_exceeded`) until the next UTC day; runs already started finish (their
  steps are charged as they complete, so a day can end a little over). Past
  80% of a limit a warning is logged once per tenant, day and instance
  (`infra/monitoring.tf` alerts on it).
- `TENANT_CREATES_PER_MINUTE`: one increment of a windowed counter shared by
  every instance (`shared.windowed`: never more than the limit in any 60 s,
  spread over shards so no counter is a hot document). The minute is cut into
  windows that each admit about a tenth of the limit, so a burst of that size
  passes at once. Over it the create is refused (`TenantRateLimited`, 429
  `rate_limited`) until the next window.

The quota is read first, so a create refused for its quota spends no permit.
With no limit set, admission costs nothing at all.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol

from shared.errors import TenantQuotaExceeded, TenantRateLimited
from shared.windowed import WindowCounter, WindowedLimit

log = logging.getLogger(__name__)

# A limit is "nearly used" past this share of it (the alert's threshold).
WARN_SHARE = 0.8
# Tenants whose day an instance remembers at most (expired ones are dropped first).
MAX_CACHED_TENANTS = 10_000
# A window admits at least 1/BURST_DIVISOR of the per-minute limit.
BURST_DIVISOR = 10
# Counter documents outlive their window by this much (then a TTL deletes them).
COUNTER_TTL_SECONDS = 180.0


class DailyUsage(Protocol):
    def day_totals(self, tenant_id: str, day: date) -> tuple[int, float]:
        """(total tokens, cost in USD) of the tenant's UTC `day`, every workflow."""


@dataclass(frozen=True)
class Limits:
    creates_per_minute: int | None = None
    daily_tokens: int | None = None
    daily_cost_usd: float | None = None

    @property
    def any_daily(self) -> bool:
        return self.daily_tokens is not None or self.daily_cost_usd is not None


@dataclass(frozen=True)
class Standing:
    """A tenant's day against its daily limits (what `GET /v1/usage` reports)."""

    day: date
    total_tokens: int
    cost_usd: float
    limits: Limits
    resets_at: datetime

    @property
    def tokens_left(self) -> int | None:
        limit = self.limits.daily_tokens
        return None if limit is None else max(0, limit - self.total_tokens)

    @property
    def cost_usd_left(self) -> float | None:
        limit = self.limits.daily_cost_usd
        return None if limit is None else max(0.0, round(limit - self.cost_usd, 8))


def next_utc_day(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time(), UTC)


class Admission:
    def __init__(
        self,
        limits: Limits,
        *,
        counter: WindowCounter | None,
        usage: DailyUsage | None,
        clock: Callable[[], datetime],
        quota_cache_seconds: float = 0.0,
    ) -> None:
        if limits.creates_per_minute is not None and counter is None:
            raise ValueError("a creates-per-minute limit needs a counter")
        if limits.any_daily and usage is None:
            raise ValueError("a daily limit needs the usage reader")
        self.limits = limits
        self._counter = counter
        self._usage = usage
        self._clock = clock
        per_minute = limits.creates_per_minute
        self._rate = None
        if per_minute is not None:
            # Windows that each admit about a tenth of the minute's limit: a
            # burst of that size passes at once, and 90% of the limit is
            # usable sustained (smaller windows would smooth more and allow
            # no burst at all).
            burst = max(1, per_minute // BURST_DIVISOR)
            self._rate = WindowedLimit.of(per_minute, per_minute / 60, min_quota=burst)
        self._warned: set[tuple[str, date, str]] = set()
        self._cache_for = timedelta(seconds=quota_cache_seconds)
        # tenant -> (read until, standing): the day's usage as last read.
        self._standings: dict[str, tuple[datetime, Standing]] = {}
        self._lock = threading.Lock()

    @property
    def window_seconds(self) -> float | None:
        """How long one window of TENANT_CREATES_PER_MINUTE lasts (None without the limit)."""
        return None if self._rate is None else self._rate.windows.seconds

    @property
    def burst(self) -> int | None:
        """Creates one window admits (None without TENANT_CREATES_PER_MINUTE)."""
        return None if self._rate is None else self._rate.windows.quota

    def admit(self, tenant_id: str) -> None:
        """Count one create of `tenant_id`, or raise why it must not happen now."""
        now = self._clock()
        if self.limits.any_daily:
            self._check_quota(self._cached_standing(tenant_id, now), tenant_id, now)
        if self._rate is not None:
            self._take(self._rate, tenant_id, now)

    def standing(self, tenant_id: str, now: datetime | None = None) -> Standing:
        now = now or self._clock()
        day = now.astimezone(UTC).date()
        tokens, cost = (0, 0.0) if self._usage is None else self._usage.day_totals(tenant_id, day)
        return Standing(
            day=day,
            total_tokens=tokens,
            cost_usd=cost,
            limits=self.limits,
            resets_at=next_utc_day(now),
        )

    def _cached_standing(self, tenant_id: str, now: datetime) -> Standing:
        with self._lock:
            cached = self._standings.get(tenant_id)
        if cached is not None and now < cached[0] and cached[1].day == now.astimezone(UTC).date():
            return cached[1]
        standing = self.standing(tenant_id, now)
        if self._cache_for:
            with self._lock:
                if len(self._standings) >= MAX_CACHED_TENANTS:
                    self._standings = {t: c for t, c in self._standings.items() if now < c[0]}
                self._standings[tenant_id] = (now + self._cache_for, standing)
        return standing

    def _check_quota(self, standing: Standing, tenant_id: str, now: datetime) -> None:
        checks = (
            ("TENANT_DAILY_TOKEN_LIMIT", self.limits.daily_tokens, standing.total_tokens, "tokens"),
            ("TENANT_DAILY_COST_LIMIT_USD", self.limits.daily_cost_usd, standing.cost_usd, "USD"),
        )
        for setting, limit, used, unit in checks:
            if limit is None:
                continue
            if used >= limit:
                resets = standing.resets_at
                raise TenantQuotaExceeded(
                    f"the tenant's daily limit {setting}={limit:g} is used up ({used:g} {unit} "
                    f"on {standing.day.isoformat()} UTC); it resets at {resets.isoformat()}",
                    retry_after_seconds=(resets - now).total_seconds(),
                )
            if used >= WARN_SHARE * limit:
                self._warn_once(tenant_id, standing.day, setting, used, limit)

    def _warn_once(
        self, tenant_id: str, day: date, setting: str, used: float, limit: float
    ) -> None:
        with self._lock:
            if (tenant_id, day, setting) in self._warned:
                return
            self._warned.add((tenant_id, day, setting))
        log.warning(
            "tenant daily quota nearly used",
            extra={"tenantId": tenant_id, "limit": setting, "share": round(used / limit, 3)},
        )

    def _take(self, rate: WindowedLimit, tenant_id: str, now: datetime) -> None:
        assert self._counter is not None
        counter = self._counter
        epoch = now.timestamp()
        expires = epoch + COUNTER_TTL_SECONDS

        def add(key: str, amount: int) -> int:
            return counter.add(key, amount, 0, expires)[0]

        tenant = hashlib.sha256(tenant_id.encode()).hexdigest()[:24]
        if rate.take(add, f"creates-{tenant}", epoch, 1) is not None:
            return
        wait = rate.next_window(epoch) - epoch
        raise TenantRateLimited(
            f"the tenant created TENANT_CREATES_PER_MINUTE={self.limits.creates_per_minute} "
            f"runs in the last minute; try again in {wait:.0f} s",
            retry_after_seconds=wait,
        )
