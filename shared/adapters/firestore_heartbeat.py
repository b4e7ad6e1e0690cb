"""The sweep's heartbeat in Firestore: one document, written after every tick.

`doctor` reads it to tell a sweep that stopped ticking (Cloud Scheduler
paused, the worker failing the tick) from one that found nothing to do.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from google.cloud import firestore

from shared.engine import SweepReport

SWEEP_HEARTBEAT = "system/sweep"


class FirestoreSweepHeartbeat:
    """`client` is asked for at the first tick: building the engine opens no channel."""

    def __init__(self, client: Callable[[], firestore.Client]) -> None:
        self._client = client

    def swept(self, at: datetime, report: SweepReport) -> None:
        self._client().document(SWEEP_HEARTBEAT).set(
            {"lastSweepAt": at, "redriven": report.redriven, "failed": report.failed}
        )
