"""Firestore implementation of the engine's `RunStore`, plus the client factory.

Fencing uses Firestore's `last_update_time` precondition: a run is updated
only if it is still at the update time the caller last saw, and a step's
domain writes travel in the same batch, so they land with the checkpoint or
not at all. This costs no read, unlike a transaction.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.field_path import FieldPath
from pydantic import BaseModel
from pydantic.alias_generators import to_camel

from shared.adapters import firestore_reads, firestore_writes
from shared.engine import (
    INLINE_OUTPUT_BYTES,
    LoadedRun,
    RunPatch,
    RunRecord,
    RunStatus,
    Slot,
    StepRecord,
    Write,
    checkpoint_bytes,
)
from shared.errors import CommitRejected, RunExists, StaleRun

RUNS = "runs"
# The statuses the sweep looks at (a WAITING run: at its wait's timeout).
UNFINISHED = [RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING]
TENANTS = "tenants"
# Outputs the engine placed beside the run (`output_external`), and any
# larger than this (UTF-8 bytes), live in runs/{runId}/outputs/{stepId},
# written in the same batch as the step's record; the engine has already
# refused any output too large even for that document (see
# shared/engine/records.py). Typical outputs (a batch of seeds, one day's
# sessions) stay inline and cost no extra write.
INLINE_OUTPUT_LIMIT = INLINE_OUTPUT_BYTES
# Write modes whose plain data `firestore_writes` encodes (merges and
# increments keep the library's path: their masks and transforms).
_PLAIN_MODES = frozenset({"create", "update", "put"})


@functools.cache
def client_for(project: str, database: str = "(default)") -> firestore.Client:
    """One client per process: it holds the gRPC channel, which is costly to open."""
    return firestore.Client(project=project, database=database)


def _plain(value: Any) -> Any:
    if isinstance(value, RunStatus):
        return value.value
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True)
    return value


def _increments(data: dict[str, Any]) -> dict[str, Any]:
    """Numbers become increments, in nested maps too (a usage document's split by model)."""
    return {
        key: firestore.Increment(value)
        if isinstance(value, int | float) and not isinstance(value, bool)
        else _increments(value)
        if isinstance(value, dict)
        else value
        for key, value in data.items()
    }


class FirestoreRunStore:
    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def _run_ref(self, run_id: str) -> firestore.DocumentReference:
        return self._db.collection(RUNS).document(run_id)

    def _apply(self, batch: firestore.WriteBatch, writes: Sequence[Write]) -> None:
        for write in writes:
            ref = self._db.document(write.path)
            if write.mode in _PLAIN_MODES and self._add_plain(batch, ref, write):
                continue
            option = (
                None
                if write.if_version is None
                else self._db.write_option(last_update_time=write.if_version)
            )
            if write.mode == "create":
                batch.create(ref, write.data)
            elif write.mode == "update":
                batch.update(ref, write.data, option=option)
            elif write.mode == "delete":
                batch.delete(ref, option=option)
            elif write.mode == "merge":
                batch.set(ref, write.data, merge=True)
            elif write.mode == "increment":
                batch.set(ref, _increments(write.data), merge=True)
            else:
                batch.set(ref, write.data)

    @staticmethod
    def _add_plain(
        batch: firestore.WriteBatch, ref: firestore.DocumentReference, write: Write
    ) -> bool:
        """Add a create, set or update of plain data built on raw protobufs; False: not plain."""
        name = ref._document_path
        try:
            if write.mode == "update":
                if_version = write.if_version
                if if_version is not None and not isinstance(if_version, datetime):
                    return False
                raw = firestore_writes.update_write(name, write.data, if_version)
            else:
                raw = firestore_writes.set_write(name, write.data, create=write.mode == "create")
        except firestore_writes.NotPlain:
            return False
        firestore_writes.add(batch, raw)
        return True

    def _step_value(
        self, batch: firestore.WriteBatch, run_id: str, step_id: str, record: StepRecord
    ) -> dict[str, Any]:
        data = record.model_dump(by_alias=True)
        data["status"] = record.status.value
        if record.output is not None and (
            record.output_external or checkpoint_bytes(record.output) > INLINE_OUTPUT_LIMIT
        ):
            ref = self._run_ref(run_id).collection("outputs").document(step_id)
            batch.set(ref, {"output": record.output})
            data["output"] = None
            data["outputExternal"] = True
        return data

    def create(self, run: RunRecord, writes: Sequence[Write]) -> None:
        batch = self._db.batch()
        self._apply(batch, writes)
        data = run.model_dump(by_alias=True, exclude={"steps"})
        data["status"] = run.status.value
        # Empty but for a rerun, which starts with its source's checkpoints.
        data["steps"] = {
            step_id: self._step_value(batch, run.run_id, step_id, record)
            for step_id, record in run.steps.items()
        }
        batch.create(self._run_ref(run.run_id), data)
        try:
            batch.commit()
        except gexc.AlreadyExists as exc:
            raise RunExists(run.run_id) from exc

    def load(self, run_id: str) -> LoadedRun | None:
        found = firestore_reads.get(self._db, f"{RUNS}/{run_id}")
        if found is None:
            return None
        data = found.data
        steps: dict[str, Any] = data.get("steps") or {}
        external = [
            step_id
            for step_id, step in steps.items()
            if isinstance(step, dict) and step.get("outputExternal")
        ]
        if external:
            # Only the steps flagged now: an outputs document left by an
            # earlier attempt of a step whose output is inline is stale.
            outputs = self._run_ref(run_id).collection("outputs")
            for doc in self._db.get_all([outputs.document(step_id) for step_id in external]):
                steps[doc.id]["output"] = (doc.to_dict() or {}).get("output")
        return LoadedRun(record=RunRecord.model_validate(data), version=found.update_time)

    def update(
        self, run_id: str, version: object, patch: RunPatch, writes: Sequence[Write] = ()
    ) -> object:
        batch = self._db.batch()
        self._apply(batch, writes)
        fields: dict[str, Any] = {to_camel(k): _plain(v) for k, v in patch.fields.items()}
        for step_id, record in patch.steps.items():
            path = FieldPath("steps", step_id).to_api_repr()
            fields[path] = self._step_value(batch, run_id, step_id, record)
        ref = self._run_ref(run_id)
        try:
            if not isinstance(version, datetime):
                raise firestore_writes.NotPlain(type(version).__name__)
            firestore_writes.add(
                batch, firestore_writes.update_write(ref._document_path, fields, version)
            )
        except firestore_writes.NotPlain:
            batch.update(ref, fields, option=self._db.write_option(last_update_time=version))
        try:
            results = batch.commit()
        except (gexc.FailedPrecondition, gexc.NotFound) as exc:
            raise StaleRun(run_id) from exc
        except gexc.AlreadyExists as exc:
            raise RunExists(run_id) from exc
        except gexc.InvalidArgument as exc:
            # The same commit would be refused again: say so, so the step fails at once.
            raise CommitRejected(f"Firestore refused the commit: {exc.message}") from exc
        return results[-1].update_time

    def read(self, path: str) -> dict[str, Any] | None:
        found = firestore_reads.get(self._db, path)
        return None if found is None else found.data

    def due(self, now: datetime, limit: int) -> list[LoadedRun]:
        query = (
            self._db.collection(RUNS)
            .where(filter=FieldFilter("status", "in", UNFINISHED))
            .where(filter=FieldFilter("watchdogAt", "<=", now))
            .order_by("watchdogAt")
            .limit(limit)
        )
        found: list[LoadedRun] = []
        for snapshot in query.stream():
            data = snapshot.to_dict() or {}
            found.append(
                LoadedRun(record=RunRecord.model_validate(data), version=snapshot.update_time)
            )
        return found

    # -- SlotStore (engine.slots) -------------------------------------------------

    def slot_path(self, tenant_id: str, index: int) -> str:
        # Hashed: a tenant id is the caller's claim, not a safe document id.
        tenant = hashlib.sha256(tenant_id.encode()).hexdigest()[:40]
        return f"{TENANTS}/{tenant}/slots/{index}"

    def slots(self, tenant_id: str) -> list[Slot]:
        collection = self._db.document(self.slot_path(tenant_id, 0)).parent
        return [
            Slot(int(doc.id), str((doc.to_dict() or {}).get("runId")), doc.update_time)
            for doc in collection.stream()
            if doc.id.isdigit()
        ]

    def release_slot(self, tenant_id: str, index: int, version: object) -> bool:
        ref = self._db.document(self.slot_path(tenant_id, index))
        try:
            ref.delete(option=self._db.write_option(last_update_time=version))
        except (gexc.FailedPrecondition, gexc.NotFound):
            return False
        return True

    def line_path(self, tenant_id: str) -> str:
        tenant = hashlib.sha256(tenant_id.encode()).hexdigest()[:40]
        return f"{TENANTS}/{tenant}/line/marker"

    def line(self, tenant_id: str) -> object | None:
        found = firestore_reads.get(self._db, self.line_path(tenant_id))
        return None if found is None else found.update_time

    def close_line(self, tenant_id: str, version: object) -> bool:
        ref = self._db.document(self.line_path(tenant_id))
        try:
            ref.delete(option=self._db.write_option(last_update_time=version))
        except (gexc.FailedPrecondition, gexc.NotFound):
            return False
        return True

    def next_waiting(self, tenant_id: str) -> LoadedRun | None:
        query = (
            self._db.collection(RUNS)
            .where(filter=FieldFilter("tenantId", "==", tenant_id))
            .where(filter=FieldFilter("slotQueue", ">=", datetime.min.replace(tzinfo=UTC)))
            .order_by("slotQueue")
            .limit(1)
        )
        for snapshot in query.stream():
            data = snapshot.to_dict() or {}
            return LoadedRun(record=RunRecord.model_validate(data), version=snapshot.update_time)
        return None
