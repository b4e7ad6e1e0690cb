"""Reads of domain documents for the HTTP layer, each into its model (the engine reads its own)."""

from __future__ import annotations

from typing import TypeVar

from google.cloud import firestore

from shared.models.common import Document

D = TypeVar("D", bound=Document)


class FirestoreDocuments:
    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def get(self, path: str, model: type[D]) -> D | None:
        snapshot = self._db.document(path).get()
        return model.model_validate(snapshot.to_dict()) if snapshot.exists else None

    def list(
        self, collection_path: str, model: type[D], order_by: str, limit: int = 500
    ) -> list[D]:
        """Up to `limit` documents of a collection, in order of the model's field `order_by`."""
        query = (
            self._db.collection(collection_path).order_by(model.stored_name(order_by)).limit(limit)
        )
        return [model.model_validate(snapshot.to_dict() or {}) for snapshot in query.stream()]
