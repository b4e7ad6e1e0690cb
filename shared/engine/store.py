"""The engine's one storage interface.

Five operations are all the engine needs. Every change to a run after its
creation is conditional on the version the caller last saw, which is how
leases fence off a stale runner and how a step's domain writes and its
checkpoint land together or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from shared import tracing
from shared.engine.records import RunRecord, StepRecord, Write

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedRun:
    record: RunRecord
    # Opaque token for conditional updates (Firestore: the document's update time).
    version: object


@dataclass
class RunPatch:
    """Changes to a run document: top-level fields (python names) and whole step records."""

    fields: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, StepRecord] = field(default_factory=dict)


class RunStore(Protocol):
    def create(self, run: RunRecord, writes: Sequence[Write]) -> None:
        """Create the run and the given documents atomically; RunExists if any exists."""

    def load(self, run_id: str) -> LoadedRun | None:
        """The run with every step record and output: one document read."""

    def update(
        self, run_id: str, version: object, patch: RunPatch, writes: Sequence[Write] = ()
    ) -> object:
        """Apply patch and writes in one commit if the run is still at version.

        Returns the new version; raises StaleRun (and writes nothing) otherwise.
        """

    def read(self, path: str) -> dict[str, Any] | None:
        """One domain document, for steps that load their inputs."""

    def due(self, now: datetime, limit: int) -> list[LoadedRun]:
        """Unfinished runs whose watchdog time has passed, for the sweep."""


class EventPublisher(Protocol):
    def publish_run(self, run_id: str, workflow: str) -> None:
        """Ask for the run to be executed (at least once)."""


def publish_or_leave_to_sweep(publisher: EventPublisher, run: RunRecord, what: str) -> None:
    """Publish a run already committed QUEUED; a failed publish is logged, not raised.

    The run is durable with a watchdog time, so the sweep publishes it again.
    """
    try:
        # The message carries this span's context (the adapter adds it), so
        # the delivery continues the run's trace from here.
        with tracing.span(
            "publish run",
            kind="producer",
            attributes={"messaging.system": "gcp_pubsub", "messaging.operation.type": "send"},
        ):
            publisher.publish_run(run.run_id, run.workflow)
    except Exception:
        log.exception(
            "publishing the %s failed; the sweep will re-publish it",
            what,
            extra={"runId": run.run_id},
        )
