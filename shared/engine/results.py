"""Results out: every terminal transition of a run is announced on the results topic.

A transactional outbox on the run itself. `OutboxStore` wraps the run store,
the one place every transition passes (runner, cancel, dead letter, sweep,
bulk operations): a commit that ends a run also sets `resultPending`; once it
has landed the result is published and the flag cleared. If the publish is
lost (Pub/Sub down, the process dies in between) the flag stays set, and the
sweep publishes the result later (`publish_pending`). Delivery is therefore at
least once: consumers dedupe by `runId` + `finishedAt` (a resumed run ends
again later, with a later `finishedAt`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import Field

from shared.engine.records import RunRecord, RunStatus, Write
from shared.engine.slots import RunsAndSlots, Slot
from shared.engine.store import LoadedRun, RunPatch, RunStore
from shared.engine.usage import Usage
from shared.errors import StaleRun
from shared.wire import CamelModel, projected

log = logging.getLogger(__name__)


class RunResult(CamelModel):
    """The results message of a run's end; each field is the run record's of that name."""

    run_id: str
    workflow: str
    tenant_id: str = Field(alias="tenant")
    subject: str
    status: str
    error: str | None = None
    usage: Usage
    finished_at: datetime | None = None
    # The trigger event that started the run, if one did.
    event_id: str | None = None
    event_name: str | None = None


class ResultPublisher(Protocol):
    def publish_result(self, result: RunResult) -> None:
        """Announce a run's end (at least once)."""


class PendingResults(Protocol):
    def pending_results(self, before: datetime, limit: int) -> list[str]:
        """Ids of runs whose result is still unpublished and that ended before `before`."""


def result_of(run: RunRecord) -> RunResult:
    return projected(RunResult, run)


def _publish(store: RunStore, results: ResultPublisher, loaded: LoadedRun) -> object | None:
    """Publish the run's result and clear its flag; the new version, or None if not cleared."""
    run = loaded.record
    if run.status.terminal:
        try:
            results.publish_result(result_of(run))
        except Exception:
            log.exception(
                "publishing the run's result failed; the sweep will publish it",
                extra={"runId": run.run_id},
            )
            return None
    try:
        return store.update(run.run_id, loaded.version, RunPatch(fields={"result_pending": False}))
    except StaleRun:
        return None  # changed meanwhile; if still pending, the sweep publishes it again


class OutboxStore:
    """A run store that publishes the result of every terminal transition it commits.

    Slot operations pass through unchanged.
    """

    def __init__(self, inner: RunsAndSlots, results: ResultPublisher) -> None:
        self.inner = inner
        self.results = results

    def slot_path(self, tenant_id: str, index: int) -> str:
        return self.inner.slot_path(tenant_id, index)

    def slots(self, tenant_id: str) -> list[Slot]:
        return self.inner.slots(tenant_id)

    def release_slot(self, tenant_id: str, index: int, version: object) -> bool:
        return self.inner.release_slot(tenant_id, index, version)

    def next_waiting(self, tenant_id: str) -> LoadedRun | None:
        return self.inner.next_waiting(tenant_id)

    def create(self, run: RunRecord, writes: Sequence[Write]) -> None:
        self.inner.create(run, writes)

    def load(self, run_id: str) -> LoadedRun | None:
        return self.inner.load(run_id)

    def read(self, path: str) -> dict[str, Any] | None:
        return self.inner.read(path)

    def due(self, now: datetime, limit: int) -> list[LoadedRun]:
        return self.inner.due(now, limit)

    def update(
        self, run_id: str, version: object, patch: RunPatch, writes: Sequence[Write] = ()
    ) -> object:
        status = patch.fields.get("status")
        if not (isinstance(status, RunStatus) and status.terminal):
            return self.inner.update(run_id, version, patch, writes)
        flagged = RunPatch(fields={**patch.fields, "result_pending": True}, steps=patch.steps)
        version = self.inner.update(run_id, version, flagged, writes)
        loaded = self.inner.load(run_id)
        if loaded is None or loaded.version != version:
            return version  # someone wrote after us: the sweep sees the flag if it is still set
        cleared = _publish(self.inner, self.results, loaded)
        return version if cleared is None else cleared


def publish_pending(
    index: PendingResults,
    store: RunStore,
    results: ResultPublisher,
    *,
    now: datetime,
    grace: timedelta,
    limit: int = 200,
) -> int:
    """The sweep's part: publish results whose publish was lost; how many were published.

    Only runs that ended more than `grace` ago, so a transition still
    publishing its own result is left alone.
    """
    published = 0
    for run_id in index.pending_results(now - grace, limit):
        loaded = store.load(run_id)
        if loaded is None or not loaded.record.result_pending:
            continue
        if _publish(store, results, loaded) is not None:
            published += 1
    if published:
        log.warning("sweep published %d lost run results", published)
    return published
