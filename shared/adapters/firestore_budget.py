"""Firestore implementation of the LLM budget's `BudgetCounter`: sharded counter documents.

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


class FirestoreBudgetCounter:
    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def add(self, key: str, requests: int, tokens: int, expires_at: float) -> tuple[int, int]:
        result = (
            self._db.collection(BUDGET)
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
