"""Finding runs: the filter an operator searches with, and the index interface that answers it.

Results come newest first. A page ends at a `Cursor` (the last run's
creation time and id), so the next page starts exactly after it even when
runs are being created meanwhile; offsets would skip or repeat runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pydantic import Field

from shared.engine.records import RunSource, RunStatus
from shared.engine.usage import Usage
from shared.wire import CamelModel


@dataclass(frozen=True)
class RunFilter:
    """Which of a tenant's runs: every given criterion must hold (`None` = any)."""

    statuses: tuple[RunStatus, ...] | None = None
    workflow: str | None = None
    created_after: datetime | None = None  # inclusive
    created_before: datetime | None = None  # exclusive
    source: RunSource | None = None


@dataclass(frozen=True)
class Cursor:
    created_at: datetime
    run_id: str


class RunSummary(CamelModel):
    """A run as a search lists it: the run record's small fields, read by their stored names.

    An index reads just these fields (not the steps and outputs that make a
    run document large); the API's list items are these fields, so a field
    added here is fetched and listed without another change.
    """

    run_id: str
    workflow: str
    status: RunStatus
    subject: str
    created_at: datetime
    finished_at: datetime | None = None
    error: str | None = None
    # Runs from before usage was kept have none.
    usage: Usage = Field(default_factory=Usage)
    # Runs from before sources were kept were all created over HTTP.
    source: RunSource = "http"
    event_id: str | None = None
    # The workflow version that started it, and the run it reran (none before they were kept).
    workflow_version: str | None = None
    rerun_of: str | None = None

    @classmethod
    def stored_fields(cls) -> list[str]:
        """The run document fields an index selects to build a summary."""
        return [field.alias or name for name, field in cls.model_fields.items()]


@dataclass(frozen=True)
class RunPage:
    runs: list[RunSummary]
    # Where the next page starts; None when this page is the last.
    next: Cursor | None


class RunIndex(Protocol):
    def page(
        self, tenant_id: str, where: RunFilter, size: int, after: Cursor | None = None
    ) -> RunPage:
        """Up to `size` of the tenant's runs matching `where`, newest first, after `after`."""

    def count(self, tenant_id: str, where: RunFilter) -> int:
        """How many of the tenant's runs match `where` (an aggregation, not a read per run)."""

    def pick(self, tenant_id: str, where: RunFilter, run_ids: list[str]) -> list[str]:
        """Those of `run_ids` that are the tenant's and match `where`, in the order given."""


def matches(where: RunFilter, run: RunSummary) -> bool:
    return (
        (where.statuses is None or run.status in where.statuses)
        and (where.workflow is None or run.workflow == where.workflow)
        and (where.created_after is None or run.created_at >= where.created_after)
        and (where.created_before is None or run.created_at < where.created_before)
        and (where.source is None or run.source == where.source)
    )
