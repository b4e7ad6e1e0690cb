"""Firestore implementation of `RunWatcher`: a snapshot listener on the run document.

A listener is one server-streamed Listen call on the client's shared gRPC
channel (not a connection of its own) and a consumer thread in this process;
Firestore pushes each committed change, so a watched run costs one document
read per change and nothing while it is idle, unlike polling.
"""

from __future__ import annotations

from typing import Any

from google.cloud import firestore

from shared.adapters.firestore_store import RUNS
from shared.engine import OnChange, RunRecord


class FirestoreSubscription:
    def __init__(self, watch: Any) -> None:
        self._watch = watch

    @property
    def active(self) -> bool:
        return bool(self._watch.is_active)

    def close(self) -> None:
        self._watch.unsubscribe()


class FirestoreRunWatcher:
    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def watch(self, run_id: str, on_change: OnChange) -> FirestoreSubscription:
        def on_snapshot(docs: list[Any], changes: Any, read_time: Any) -> None:
            snapshot = docs[0] if docs else None
            if snapshot is None or not snapshot.exists:
                on_change(None)
                return
            on_change(RunRecord.model_validate(snapshot.to_dict() or {}))

        ref = self._db.collection(RUNS).document(run_id)
        return FirestoreSubscription(ref.on_snapshot(on_snapshot))
