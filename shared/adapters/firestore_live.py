"""Firestore side of live output: the run's live log, written and watched.

The log is one document (`engine.live.live_path`); a flush is one
`set(merge=True)` of the entries it appends (one write, no read, no
transaction: only the lease holder writes), and readers share one snapshot
listener per run on it (`firestore_watch.DocumentListeners`, on the listen
channels the run watcher uses), which costs a document read per change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.cloud import firestore

from shared.adapters import firestore_reads
from shared.adapters.firestore_watch import DocumentListeners, ListenChannels
from shared.engine import live_path

OnLive = Callable[[dict[str, Any] | None], None]


class FirestoreLiveStore:
    """`engine.live.LiveStore` on Firestore."""

    def __init__(self, client: Callable[[], firestore.Client], channels: ListenChannels) -> None:
        # The client is asked for at the first read or write, so building the
        # engine (e.g. with an overridden store, in tests) opens no connection.
        self._client = client
        self.listeners: DocumentListeners[dict[str, Any]] = DocumentListeners(channels, _as_is)

    def read(self, path: str) -> dict[str, Any] | None:
        found = firestore_reads.get(self._client(), path)
        return None if found is None else found.data

    def merge_document(self, path: str, data: dict[str, Any]) -> None:
        self._client().document(path).set(data, merge=True)

    def watch(self, run_id: str, on_change: OnLive) -> Any:
        """Listen to the run's live log: `on_change` with it as it is, then on every change."""
        return self.listeners.watch(live_path(run_id), on_change)


def _as_is(data: dict[str, Any]) -> dict[str, Any]:
    return data
