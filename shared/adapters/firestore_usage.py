"""Reads a tenant's usage documents (written by the engine's ledger) for a range of days."""

from __future__ import annotations

from datetime import date

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.engine import USAGE_COLLECTION, DailyUsage

TENANT = DailyUsage.stored_name("tenant_id")
DAY = DailyUsage.stored_name("day")


class FirestoreUsage:
    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def query(self, tenant_id: str, first: date, last: date) -> firestore.Query:
        return (
            self._db.collection(USAGE_COLLECTION)
            .where(filter=FieldFilter(TENANT, "==", tenant_id))
            .where(filter=FieldFilter(DAY, ">=", first.isoformat()))
            .where(filter=FieldFilter(DAY, "<=", last.isoformat()))
            .order_by(DAY)
        )

    def days(self, tenant_id: str, first: date, last: date) -> list[DailyUsage]:
        """Usage documents of `first`..`last` (inclusive), by day then workflow."""
        stream = self.query(tenant_id, first, last).stream()
        found = [DailyUsage.model_validate(s.to_dict() or {}) for s in stream]
        return sorted(found, key=lambda d: (d.day, d.workflow))
