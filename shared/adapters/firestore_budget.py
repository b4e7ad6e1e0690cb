"""Firestore implementation of `shared.windowed.WindowCounter`: sharded counter documents.

The LLM budget counts in `llmBudget`, the tenants' creates per minute
(`shared.admission`) in `admission`.

Each add is one write with increment transforms; Firestore returns the
transformed values with the write result, so counting and reading the total
cost one write and no read, and concurrent adds never conflict. The
documents carry `expireAt`, which the TTL policy in infra/firestore.tf uses
to delete them once their window is long past.
"""

from __future__ import annotations

from datetime import UTC, datetime

from google.cloud import firestore

BUDGET = "llmBudget"
ADMISSION = "admission"


class FirestoreBudgetCounter:
    def __init__(self, client: firestore.Client, collection: str = BUDGET) -> None:
        self._db = client
        self._collection = collection

    def add(self, key: str, requests: int, tokens: int, expires_at: float) -> tuple[int, int]:
        result = (
            self._db.collection(self._collection)
            .document(key)
            .set(
                {
                    "requests": firestore.Increment(requests),
                    "tokens": firestore.Increment(tokens),
                    "expireAt": datetime.fromtimestamp(expires_at, UTC),
                },
                merge=True,
            )
        )
        values = [v.integer_value for v in result.transform_results]
        return values[0], values[1]
