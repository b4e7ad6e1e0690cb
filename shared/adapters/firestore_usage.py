"""Reads a tenant's usage documents (written by the engine's ledger) for a range of days."""

from __future__ import annotations

from datetime import date
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.engine import USAGE_COLLECTION


class FirestoreUsage:
    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def query(self, tenant_id: str, first: date, last: date) -> firestore.Query:
        return (
            self._db.collection(USAGE_COLLECTION)
            .where(filter=FieldFilter("tenantId", "==", tenant_id))
            .where(filter=FieldFilter("day", ">=", first.isoformat()))
            .where(filter=FieldFilter("day", "<=", last.isoformat()))
            .order_by("day")
        )

    def days(self, tenant_id: str, first: date, last: date) -> list[dict[str, Any]]:
        """Usage documents of `first`..`last` (inclusive), by day then workflow."""
        found = [s.to_dict() or {} for s in self.query(tenant_id, first, last).stream()]
        return sorted(found, key=lambda d: (d["day"], d["workflow"]))
