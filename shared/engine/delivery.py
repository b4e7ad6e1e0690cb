"""The vocabulary of one delivery of a run: its clock and how it ends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Outcome(StrEnum):
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    ALREADY_FINISHED = "ALREADY_FINISHED"
    LEASED_ELSEWHERE = "LEASED_ELSEWHERE"
    LEASE_LOST = "LEASE_LOST"
    # Parked QUEUED: the tenant's slots are all taken (`engine.slots`).
    WAITING_FOR_SLOT = "WAITING_FOR_SLOT"
    # Handed back until a rate limit (provider 429, LLM budget) is over.
    RATE_LIMITED = "RATE_LIMITED"
    UNKNOWN_RUN = "UNKNOWN_RUN"
    # Parked WAITING for a signal or a time (`engine.waits`); acknowledged.
    WAITING = "WAITING"
    # The instance is stopping (SIGTERM): the run was released and published
    # for another instance (`engine.handover`); the push is acknowledged.
    HANDED_OVER = "HANDED_OVER"


class Stop(Exception):
    """The run left our hands (cancelled, finished or taken over) mid-execution."""

    # Not a failure of the spans it leaves (`shared.tracing.span`).
    traced_as_error = False

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome
