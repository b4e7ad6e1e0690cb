"""The engine's own settings: one frozen value the `Engine` is built with, read nowhere else.

Every part of the engine that needs a lease length, an attempt limit or the
watchdog's re-drive delay reads it from here, so no caller threads them
through its signatures. `from_settings` maps the deployment's `Settings`
(environment variables, bounds-checked in `shared.config`) onto it; tests
and the test kit build one directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.config import Settings


@dataclass(frozen=True)
class EngineSettings:
    # How long a delivery owns its run without renewing the lease (the
    # heartbeat renews it every third of this while a step runs): the bound
    # on how long a run whose worker died waits before another takes it.
    lease: timedelta = timedelta(seconds=12)
    # A delivery that finds the run leased by another, the lease running out
    # within this, waits for it and re-reads the run: a crashed worker's
    # run is taken over by Pub/Sub's redelivery of the push as soon as its
    # lease expires, not at the sweep's next tick. 0: acknowledge at once
    # (the test kit, whose clock is fake).
    lease_wait: timedelta = timedelta(0)
    # Attempts of one step before the run fails.
    step_max_attempts: int = 5
    # A run nobody moved for this long is looked at by the sweep (re-published
    # or failed); also how long a result's publish may take before the sweep
    # publishes it instead.
    redrive_after: timedelta = timedelta(seconds=120)
    # Fan-out steps of one run executed at once.
    max_parallel_steps: int = 8
    # Runs of one tenant executing at once (`engine.slots`); None: no limit.
    tenant_max_active_runs: int | None = None
    # A run's streamed items are written at most this often (`engine.live`).
    stream_flush: timedelta = timedelta(seconds=0.5)
    # A sleep this short is slept in the delivery (holding the lease); a longer
    # one parks the run WAITING and the sweep wakes it (`engine.waits`).
    wait_in_process: timedelta = timedelta(seconds=10)

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineSettings:
        return cls(
            lease=timedelta(seconds=settings.lease_seconds),
            lease_wait=timedelta(seconds=settings.lease_wait_seconds),
            step_max_attempts=settings.step_max_attempts,
            redrive_after=settings.redrive_after,
            max_parallel_steps=settings.max_parallel_steps,
            tenant_max_active_runs=settings.tenant_max_active_runs,
            stream_flush=timedelta(seconds=settings.stream_flush_seconds),
            wait_in_process=timedelta(seconds=settings.wait_in_process_seconds),
        )

    def watchdog(self, now: datetime, deadline: datetime) -> datetime:
        """When the sweep should look at a run that nothing moves from `now` on.

        Never later than the run's deadline, so a run past it is failed on
        time even if it was left QUEUED.
        """
        return min(now + self.redrive_after, deadline)
