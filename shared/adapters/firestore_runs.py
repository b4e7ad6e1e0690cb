"""Firestore implementation of the engine's `RunIndex`: a tenant's runs, newest first.

Each page is one query that reads `size + 1` documents (the extra one only
tells whether another page exists) and fetches only the summary fields, not
the step records and outputs that make a run document large. The composite
indexes these queries need are declared in `infra/firestore.tf`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.adapters.firestore_store import RUNS
from shared.engine import Cursor, RunFilter, RunPage, RunStatus, RunSummary, matches

# The tenant (which every query filters on) and what a summary holds.
SUMMARY_FIELDS = ["tenantId", *RunSummary.stored_fields()]


def _summary(data: dict[str, Any]) -> RunSummary:
    return RunSummary.model_validate(data)


class FirestoreRunIndex:
    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def query(self, tenant_id: str, where: RunFilter) -> firestore.Query:
        """The tenant's runs matching `where`, newest first (ties broken by id)."""
        query = self._db.collection(RUNS).where(filter=FieldFilter("tenantId", "==", tenant_id))
        if where.statuses is not None:
            values = [s.value for s in where.statuses]
            if len(values) == 1:
                query = query.where(filter=FieldFilter("status", "==", values[0]))
            else:
                query = query.where(filter=FieldFilter("status", "in", values))
        if where.workflow is not None:
            query = query.where(filter=FieldFilter("workflow", "==", where.workflow))
        if where.source is not None:
            query = query.where(filter=FieldFilter("source", "==", where.source))
        if where.created_after is not None:
            query = query.where(filter=FieldFilter("createdAt", ">=", where.created_after))
        if where.created_before is not None:
            query = query.where(filter=FieldFilter("createdAt", "<", where.created_before))
        return query.order_by("createdAt", direction=firestore.Query.DESCENDING).order_by(
            "__name__", direction=firestore.Query.DESCENDING
        )

    def page(
        self, tenant_id: str, where: RunFilter, size: int, after: Cursor | None = None
    ) -> RunPage:
        query = self.query(tenant_id, where).select(SUMMARY_FIELDS)
        if after is not None:
            query = query.start_after({"createdAt": after.created_at, "__name__": after.run_id})
        found = [_summary(s.to_dict() or {}) for s in query.limit(size + 1).stream()]
        runs = found[:size]
        more = len(found) > size
        last = runs[-1] if runs and more else None
        cursor = Cursor(created_at=last.created_at, run_id=last.run_id) if last else None
        return RunPage(runs=runs, next=cursor)

    def count(self, tenant_id: str, where: RunFilter) -> int:
        # The client's type hints get `AggregationQuery.get` wrong; it returns rows of results.
        aggregation: Any = self.query(tenant_id, where).count(alias="runs")
        rows = aggregation.get()
        return int(rows[0][0].value)

    def pick(self, tenant_id: str, where: RunFilter, run_ids: list[str]) -> list[str]:
        refs = [self._db.collection(RUNS).document(i) for i in dict.fromkeys(run_ids)]
        found = {
            s.id: s.to_dict() or {} for s in self._db.get_all(refs, field_paths=SUMMARY_FIELDS)
        }
        return [
            run_id
            for run_id in dict.fromkeys(run_ids)
            if run_id in found
            and found[run_id].get("tenantId") == tenant_id
            and matches(where, _summary(found[run_id]))
        ]

    def waiting(self, tenant_id: str, event: str, key: str, limit: int = 20) -> list[str]:
        """The tenant's WAITING runs whose wait takes trigger event `event` with key `key`.

        Equality filters only, so Firestore serves it by merging its
        single-field indexes: no composite index is needed.
        """
        query = (
            self._db.collection(RUNS)
            .where(filter=FieldFilter("tenantId", "==", tenant_id))
            .where(filter=FieldFilter("status", "==", RunStatus.WAITING.value))
            .where(filter=FieldFilter("wait.event", "==", event))
            .where(filter=FieldFilter("wait.key", "==", key))
            .limit(limit)
            .select([])
        )
        return [snapshot.id for snapshot in query.stream()]

    def signalled_by(self, tenant_id: str, event_id: str) -> list[str]:
        """The tenant's runs whose latest wait was ended by trigger event `event_id`."""
        query = (
            self._db.collection(RUNS)
            .where(filter=FieldFilter("tenantId", "==", tenant_id))
            .where(filter=FieldFilter("signalEvent", "==", event_id))
            .limit(20)
            .select([])
        )
        return [snapshot.id for snapshot in query.stream()]

    def pending_query(self, before: datetime) -> firestore.Query:
        return (
            self._db.collection(RUNS)
            .where(filter=FieldFilter("resultPending", "==", True))
            .where(filter=FieldFilter("finishedAt", "<=", before))
            .order_by("finishedAt")
        )

    def pending_results(self, before: datetime, limit: int) -> list[str]:
        query = self.pending_query(before).limit(limit).select([])
        return [snapshot.id for snapshot in query.stream()]
