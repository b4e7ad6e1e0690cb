"""An in-memory `RunStore` with Firestore's preconditions, and a clock tests move by hand.

The engine's semantics (leases, fencing, retries, replay, cancel, sweep,
deadlines) run against this in milliseconds, without Java and without
sleeping; `test_run_store_contract.py` runs the same cases against this
store and the Firestore one, so the two cannot drift apart.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.engine.records import RunRecord, RunStatus, Write
from shared.engine.slots import Slot
from shared.engine.store import LoadedRun, RunPatch
from shared.errors import RunExists, StaleRun


class FakeClock:
    """A settable `Clock`: time moves only when a test says so."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)


def _merge(into: dict[str, Any], data: dict[str, Any]) -> None:
    """Firestore's `set(merge=True)`: maps merge key by key, anything else is replaced."""
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


class InMemoryRunStore:
    """Runs and domain documents in dicts; every change is conditional as in Firestore.

    A version is the number of the commit that last wrote a document (as
    Firestore's update time is the commit's time); an update at another
    version (or of a missing run) raises `StaleRun` and changes nothing, as
    does a conditional `update`/`delete` write of a changed document. A
    `create` of an existing document raises `RunExists`. `updates` counts the
    run commits that landed, `writes` every document written or deleted.
    It is also the `SlotStore` of tenant slots (`engine.slots`).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, tuple[dict[str, Any], int]] = {}
        self.documents: dict[str, dict[str, Any]] = {}
        self._versions: dict[str, int] = {}
        self._commits = 0
        self.updates = 0
        self.writes = 0

    def create(self, run: RunRecord, writes: Sequence[Write]) -> None:
        with self._lock:
            if run.run_id in self._runs or any(
                w.mode == "create" and w.path in self.documents for w in writes
            ):
                raise RunExists(run.run_id)
            self._commits += 1
            self._apply(writes)
            self._runs[run.run_id] = (run.model_dump(by_alias=True), self._commits)
            self.writes += 1

    def load(self, run_id: str) -> LoadedRun | None:
        with self._lock:
            stored = self._runs.get(run_id)
            if stored is None:
                return None
            data, version = stored
            return LoadedRun(record=RunRecord.model_validate(copy.deepcopy(data)), version=version)

    def update(
        self, run_id: str, version: object, patch: RunPatch, writes: Sequence[Write] = ()
    ) -> object:
        with self._lock:
            stored = self._runs.get(run_id)
            if stored is None or stored[1] != version:
                raise StaleRun(run_id)
            if any(w.mode == "create" and w.path in self.documents for w in writes):
                raise RunExists(run_id)
            if any(not self._unchanged(w) for w in writes):
                raise StaleRun(run_id)
            data = copy.deepcopy(stored[0])
            record = RunRecord.model_validate(data)
            for name, value in patch.fields.items():
                setattr(record, name, value)
            record.steps.update(patch.steps)
            self._commits += 1
            self._apply(writes)
            self._runs[run_id] = (record.model_dump(by_alias=True), self._commits)
            self.updates += 1
            self.writes += 1
            return self._commits

    def read(self, path: str) -> dict[str, Any] | None:
        with self._lock:
            doc = self.documents.get(path)
            return copy.deepcopy(doc) if doc is not None else None

    def due(self, now: datetime, limit: int) -> list[LoadedRun]:
        with self._lock:
            runs = [
                (RunRecord.model_validate(copy.deepcopy(data)), version)
                for data, version in self._runs.values()
            ]
        found = [
            LoadedRun(record=record, version=version)
            for record, version in runs
            if record.status in (RunStatus.QUEUED, RunStatus.RUNNING)
            and record.watchdog_at is not None
            and record.watchdog_at <= now
        ]
        found.sort(key=lambda loaded: loaded.record.watchdog_at or now)
        return found[:limit]

    def _unchanged(self, write: Write) -> bool:
        """A conditional write's document is still at the version it names (and exists)."""
        if write.mode == "update":
            return write.path in self.documents and (
                write.if_version is None or self._versions.get(write.path) == write.if_version
            )
        if write.mode == "delete" and write.if_version is not None:
            return bool(self._versions.get(write.path) == write.if_version)
        return True

    def _apply(self, writes: Sequence[Write]) -> None:
        for write in writes:
            self.writes += 1
            if write.mode == "delete":
                self.documents.pop(write.path, None)
                self._versions.pop(write.path, None)
                continue
            if write.mode == "increment":
                document = self.documents.setdefault(write.path, {})
                for key, value in write.data.items():
                    counts = isinstance(value, int | float) and not isinstance(value, bool)
                    document[key] = document.get(key, 0) + value if counts else value
            elif write.mode in ("merge", "update") and write.path in self.documents:
                _merge(self.documents[write.path], write.data)
            else:
                self.documents[write.path] = copy.deepcopy(write.data)
            self._versions[write.path] = self._commits

    # -- SlotStore ------------------------------------------------------------

    def slot_path(self, tenant_id: str, index: int) -> str:
        return f"tenants/{tenant_id}/slots/{index}"

    def slots(self, tenant_id: str) -> list[Slot]:
        prefix = f"tenants/{tenant_id}/slots/"
        with self._lock:
            return [
                Slot(int(path[len(prefix) :]), doc["runId"], self._versions[path])
                for path, doc in self.documents.items()
                if path.startswith(prefix)
            ]

    def release_slot(self, tenant_id: str, index: int, version: object) -> bool:
        path = self.slot_path(tenant_id, index)
        with self._lock:
            if self._versions.get(path) != version:
                return False
            self._commits += 1
            self._apply([Write(path=path, data={}, mode="delete")])
            return True

    def next_waiting(self, tenant_id: str) -> LoadedRun | None:
        with self._lock:
            waiting = [
                (RunRecord.model_validate(copy.deepcopy(data)), version)
                for data, version in self._runs.values()
            ]
        lined = [
            (record.slot_queue, record.run_id, version)
            for record, version in waiting
            if record.tenant_id == tenant_id and record.slot_queue is not None
        ]
        if not lined:
            return None
        _, run_id, _ = min(lined)
        return self.load(run_id)
