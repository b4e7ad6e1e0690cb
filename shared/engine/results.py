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
import threading
from collections import OrderedDict
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
    result = result_of(run) if run.status.terminal else None
    return _publish_result(store, results, run.run_id, result, loaded.version)


def _publish_result(
    store: RunStore,
    results: ResultPublisher,
    run_id: str,
    result: RunResult | None,
    version: object,
) -> object | None:
    if result is not None:
        try:
            results.publish_result(result)
        except Exception:
            log.exception(
                "publishing the run's result failed; the sweep will publish it",
                extra={"runId": run_id},
            )
            return None
    try:
        return store.update(run_id, version, RunPatch(fields={"result_pending": False}))
    except StaleRun:
        return None  # changed meanwhile; if still pending, the sweep publishes it again


class _Known:
    """What a run's result will say, as of the run's version this process last saw.

    Filled when the run is loaded and carried through each commit made here:
    the commit is conditional on that version, so once it lands the run is
    exactly that state plus the patch. The terminal commit then needs no
    read to learn its result. Bounded; a run not known (or known at another
    version: someone else wrote it) is read as before.
    """

    LIMIT = 10_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: OrderedDict[str, tuple[object, dict[str, Any]]] = OrderedDict()

    def saw(self, loaded: LoadedRun) -> None:
        fields = {name: getattr(loaded.record, name) for name in _RESULT_FIELDS}
        with self._lock:
            self._runs[loaded.record.run_id] = (loaded.version, fields)
            self._runs.move_to_end(loaded.record.run_id)
            while len(self._runs) > self.LIMIT:
                self._runs.popitem(last=False)

    def committed(
        self, run_id: str, before: object, after: object, patch: RunPatch
    ) -> dict[str, Any] | None:
        """Carry the run from `before` to `after`; its result fields now, if known."""
        with self._lock:
            known = self._runs.pop(run_id, None)
            if known is None or known[0] != before:
                return None
            fields = {**known[1], **{k: v for k, v in patch.fields.items() if k in known[1]}}
            self._runs[run_id] = (after, fields)
            return fields

    def forget(self, run_id: str) -> None:
        with self._lock:
            self._runs.pop(run_id, None)


_RESULT_FIELDS = tuple(name for name in RunResult.model_fields if name != "run_id")


class OutboxStore:
    """A run store that publishes the result of every terminal transition it commits.

    Slot operations pass through unchanged.
    """

    def __init__(self, inner: RunsAndSlots, results: ResultPublisher) -> None:
        self.inner = inner
        self.results = results
        self._known = _Known()

    def slot_path(self, tenant_id: str, index: int) -> str:
        return self.inner.slot_path(tenant_id, index)

    def slots(self, tenant_id: str) -> list[Slot]:
        return self.inner.slots(tenant_id)

    def release_slot(self, tenant_id: str, index: int, version: object) -> bool:
        return self.inner.release_slot(tenant_id, index, version)

    def next_waiting(self, tenant_id: str) -> LoadedRun | None:
        return self.inner.next_waiting(tenant_id)

    def line_path(self, tenant_id: str) -> str:
        return self.inner.line_path(tenant_id)

    def line(self, tenant_id: str) -> object | None:
        return self.inner.line(tenant_id)

    def close_line(self, tenant_id: str, version: object) -> bool:
        return self.inner.close_line(tenant_id, version)

    def create(self, run: RunRecord, writes: Sequence[Write]) -> None:
        self.inner.create(run, writes)

    def load(self, run_id: str) -> LoadedRun | None:
        loaded = self.inner.load(run_id)
        if loaded is not None:
            self._known.saw(loaded)
        return loaded

    def read(self, path: str) -> dict[str, Any] | None:
        return self.inner.read(path)

    def due(self, now: datetime, limit: int) -> list[LoadedRun]:
        return self.inner.due(now, limit)

    def update(
        self, run_id: str, version: object, patch: RunPatch, writes: Sequence[Write] = ()
    ) -> object:
        status = patch.fields.get("status")
        if not (isinstance(status, RunStatus) and status.terminal):
            after = self.inner.update(run_id, version, patch, writes)
            self._known.committed(run_id, version, after, patch)
            return after
        flagged = RunPatch(fields={**patch.fields, "result_pending": True}, steps=patch.steps)
        after = self.inner.update(run_id, version, flagged, writes)
        fields = self._known.committed(run_id, version, after, flagged)
        self._known.forget(run_id)
        if fields is not None:
            # Known without a read: the run at `after` is what we saw plus our patches.
            result = RunResult.model_validate({"run_id": run_id, **fields}, by_name=True)
            cleared = _publish_result(self.inner, self.results, run_id, result, after)
            return after if cleared is None else cleared
        loaded = self.inner.load(run_id)
        if loaded is None or loaded.version != after:
            return after  # someone wrote after us: the sweep sees the flag if it is still set
        cleared = _publish(self.inner, self.results, loaded)
        return after if cleared is None else cleared


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
