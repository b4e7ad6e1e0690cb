"""Reads of domain documents for the HTTP layer (the engine has its own store)."""

from __future__ import annotations

from typing import Any

from google.cloud import firestore


class FirestoreDocuments:
    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def get(self, path: str) -> dict[str, Any] | None:
        snapshot = self._db.document(path).get()
        return snapshot.to_dict() if snapshot.exists else None

    def list(self, collection_path: str, order_by: str, limit: int = 500) -> list[dict[str, Any]]:
        query = self._db.collection(collection_path).order_by(order_by).limit(limit)
        return [snapshot.to_dict() or {} for snapshot in query.stream()]
