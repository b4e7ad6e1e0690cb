"""Requests that search runs: the list's query string and the bulk operations' filter."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import AwareDatetime, ConfigDict, Field, model_validator

from shared.engine import RunSource, RunStatus
from shared.models.common import CamelModel, RequestModel, ResourceId

MAX_PAGE_SIZE = 200
MAX_USAGE_DAYS = 366
DEFAULT_PAGE_SIZE = 50


class RunCriteria(RequestModel):
    """Which runs: all given criteria must hold. Times are ISO 8601 with a zone."""

    status: list[RunStatus] | None = Field(default=None, min_length=1, max_length=5)
    workflow: str | None = Field(default=None, min_length=1, max_length=100)
    created_after: AwareDatetime | None = None
    created_before: AwareDatetime | None = None
    source: RunSource | None = Field(
        default=None, description="`http` (a create route) or `trigger` (a Pub/Sub event)"
    )

    @model_validator(mode="after")
    def _window(self) -> RunCriteria:
        if (
            self.created_after is not None
            and self.created_before is not None
            and self.created_after >= self.created_before
        ):
            raise ValueError("createdAfter must be earlier than createdBefore")
        return self


class RunListQuery(RunCriteria):
    """`GET /v1/runs`: query-string values arrive as text, so types are coerced."""

    model_config = ConfigDict(strict=False)

    page_size: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    page_token: str | None = Field(default=None, max_length=1000)


class BulkRequest(RunCriteria):
    """`POST /v1/runs/bulk-cancel|bulk-resume`: the runs to act on (all criteria must hold)."""

    run_ids: list[ResourceId] | None = Field(default=None, min_length=1, max_length=500)


class BulkStarted(CamelModel):
    operation_id: str
    matched: int


class OperationView(CamelModel):
    """A bulk operation's progress, read from its document."""

    operation_id: str
    action: str
    status: str
    matched: int
    selected: int | None = None
    succeeded: int
    skipped: int
    created_at: datetime
    finished_at: datetime | None = None
    error: str | None = None


# An event id of the run and subject streams: `<live log position>-<run view hash>`.
EVENT_ID_PATTERN = r"^[0-9]{1,9}-[0-9a-f]{1,16}$"


class EventsQuery(RequestModel):
    """`GET .../events?lastEventId=`: for clients that cannot send the `Last-Event-ID` header."""

    model_config = ConfigDict(strict=False, populate_by_name=False)

    last_event_id: str | None = Field(
        default=None,
        alias="lastEventId",
        pattern=EVENT_ID_PATTERN,
        description="Resume after this event (as the Last-Event-ID header does).",
    )


class LiveItemEvent(CamelModel):
    """`item`: a completed item of a streaming step, as the committed output has it."""

    run_id: str
    step: str
    attempt: int
    index: int
    item: Any


class LiveResetEvent(CamelModel):
    """`reset`: every item the step showed so far is withdrawn (an attempt failed or retried)."""

    run_id: str
    step: str
    attempt: int
    reason: str


class LiveFinalEvent(CamelModel):
    """`final`: the step committed; its items are these (after repairs), provisional no more."""

    run_id: str
    step: str
    items: list[Any]


class RunEnded(CamelModel):
    """`end`: the run is terminal; the stream closes after this event."""

    run_id: str
    status: RunStatus


class UsageQuery(RequestModel):
    """`GET /v1/usage?from=YYYY-MM-DD&to=YYYY-MM-DD`: UTC days, both included."""

    model_config = ConfigDict(strict=False, populate_by_name=False)

    first: date = Field(alias="from")
    last: date = Field(alias="to")

    @model_validator(mode="after")
    def _range(self) -> UsageQuery:
        if self.first > self.last:
            raise ValueError("from must not be after to")
        if (self.last - self.first).days >= MAX_USAGE_DAYS:
            raise ValueError(f"at most {MAX_USAGE_DAYS} days at once")
        return self


class ModelUsageFigures(CamelModel):
    """One model's share of a row: the tokens it was called for and their cost at its price."""

    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0


class UsageFigures(CamelModel):
    runs: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0
    # The tokens and cost split by the model that was called, by model name
    # (runs are not: one run can call several models). Usage recorded
    # before the split shows as model "unknown" when its model was not named.
    models: list[ModelUsageFigures] = Field(default_factory=list)


class UsageRow(UsageFigures):
    day: str
    workflow: str


class UsageLimits(CamelModel):
    """The tenant's admission limits (absent: no limit)."""

    creates_per_minute: int | None = None
    daily_tokens: int | None = None
    daily_cost_usd: float | None = None


class UsageToday(CamelModel):
    """Today (UTC) against the daily limits: what is used, what is left, when it resets."""

    day: str
    total_tokens: int
    cost_usd: float
    tokens_left: int | None = Field(default=None, description="Absent without a token limit")
    cost_usd_left: float | None = Field(default=None, description="Absent without a cost limit")
    resets_at: datetime


class UsageReport(CamelModel):
    days: list[UsageRow]
    totals: UsageFigures
    limits: UsageLimits
    today: UsageToday
