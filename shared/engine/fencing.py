"""Leases and fencing: the only way a delivery writes its run, and the heartbeat.

Every write is conditional on the version this delivery last wrote or read.
A stale write means someone else touched the run: if it is still ours (our
own heartbeat renewed the lease, say) we adopt the new version and carry on;
if it was cancelled, finished or taken over we stop (`Stop`), so a step's
effects never land for a runner that lost the run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shared.engine.delivery import Clock, Outcome, Stop
from shared.engine.ledger import UsageLedger
from shared.engine.records import RunStatus, StepRecord, Write
from shared.engine.settings import EngineSettings
from shared.engine.store import LoadedRun, RunPatch, RunStore
from shared.engine.transitions import FailureReason, subject_status_writes, terminal_fields
from shared.errors import StaleRun

log = logging.getLogger(__name__)


class RunFence:
    """The run as this delivery last wrote it, its version, and the commit lock."""

    def __init__(
        self,
        store: RunStore,
        loaded: LoadedRun,
        owner: str,
        settings: EngineSettings,
        clock: Clock,
        ledger: UsageLedger | None = None,
    ) -> None:
        self.store = store
        self.owner = owner
        self.settings = settings
        self.clock = clock
        # Charges each commit's new token usage to the run and the tenant's day.
        self.ledger = ledger
        self.run = loaded.record
        self.version = loaded.version
        # Serialises commits (fan-out threads commit concurrently).
        self.lock = threading.RLock()
        # Records of pure steps, written with the next commit.
        self.buffer: dict[str, StepRecord] = {}
        # Set by the heartbeat when it finds the run gone from us.
        self.stopped: Outcome | None = None
        self.last_write = clock()

    def adopt(self, loaded: LoadedRun) -> None:
        """Start over from a fresh read (before the claim)."""
        self.run, self.version = loaded.record, loaded.version

    def write(
        self,
        patch: RunPatch,
        writes: Sequence[Write] = (),
        *,
        claim: bool = False,
        fails_run: str | None = None,
    ) -> None:
        """One conditional commit; flushes buffered pure-step records along with it.

        `fails_run` (a step out of attempts) makes it the commit that ends the
        run FAILED, subject included, and stops the delivery once it has landed.
        """
        with self.lock:
            if self.stopped is Outcome.HANDED_OVER:
                # The run was handed to another instance: nothing of ours lands.
                raise Stop(Outcome.HANDED_OVER)
            if self.buffer:
                patch.steps = {**self.buffer, **patch.steps}
            if fails_run is not None:
                now = self.clock()
                patch.fields.update(terminal_fields(RunStatus.FAILED, fails_run, now))
                failed = subject_status_writes(self.run, RunStatus.FAILED, fails_run, now)
                writes = [*writes, *failed]
            if self.ledger is not None:
                writes = [*writes, *self.ledger.charge(self.run, patch, self.clock())]
            for attempt in range(3):
                try:
                    self.version = self.store.update(self.run.run_id, self.version, patch, writes)
                    break
                except StaleRun:
                    if claim or attempt == 2:
                        raise
                    self.judge(self.store.load(self.run.run_id))
            self.applied(patch)
            if fails_run is not None:
                log.info(
                    "run finished",
                    extra={"status": "FAILED", "reason": FailureReason.ATTEMPTS_EXHAUSTED},
                )
                self.stopped = Outcome.FAILED
                raise Stop(Outcome.FAILED)

    def applied(self, patch: RunPatch) -> None:
        self.last_write = self.clock()
        for step_id in patch.steps:
            self.buffer.pop(step_id, None)
        for key, value in patch.fields.items():
            setattr(self.run, key, value)
        self.run.steps.update(patch.steps)

    def judge(self, fresh: LoadedRun | None) -> None:
        """After a stale write: adopt the new version if the run is still ours, else stop."""
        if fresh is None:
            raise Stop(Outcome.UNKNOWN_RUN)
        record = fresh.record
        if record.status is RunStatus.CANCELLED:
            log.info("run was cancelled; stopping")
            raise Stop(Outcome.CANCELLED)
        if record.status.terminal:
            raise Stop(Outcome.ALREADY_FINISHED)
        if record.lease_owner != self.owner:
            log.warning("lease was taken over by another delivery; stopping")
            raise Stop(Outcome.LEASE_LOST)
        self.version = fresh.version

    def check_still_ours(self) -> None:
        if self.stopped is not None:
            raise Stop(self.stopped)

    def release(self) -> None:
        """Hand the run back so a redelivery need not wait for the lease to expire."""
        try:
            with self.lock:
                self.buffer.clear()
                self.write(RunPatch(fields=self.released(self.clock())))
        except (Stop, Exception):
            log.warning("could not release the run; its lease will expire instead")

    def hand_over(self, steps: dict[str, StepRecord]) -> bool:
        """Release the run for another instance and write nothing more; whether to publish it.

        Takes the commit lock, so a commit under way (a step about to
        commit) lands first; every later write of this delivery raises
        `Stop(HANDED_OVER)`. `steps` (the in-flight steps' attempts given
        back) ride on the release. False when the run is no longer ours to
        hand over (it ended, or another delivery took it).
        """
        with self.lock:
            if self.stopped is not None and self.stopped is not Outcome.HANDED_OVER:
                return False
            if self.run.status.terminal:
                return False
            try:
                if self.run.lease_owner == self.owner and self.stopped is None:
                    self.write(RunPatch(fields=self.released(self.clock()), steps=steps))
            except Stop as stop:
                self.stopped = stop.outcome
                return False
            except Exception:
                # Published anyway: the next delivery waits out our lease (`lease_wait`).
                log.exception("could not release the run; its lease will expire instead")
            self.stopped = Outcome.HANDED_OVER
            return True

    def released(self, now: datetime) -> dict[str, Any]:
        """No lease, so a redelivery may take the run at once; the sweep looks later."""
        return {
            "lease_owner": None,
            "lease_expires_at": None,
            "watchdog_at": self.settings.watchdog(now, self.run.deadline_at),
        }

    def lease_fields(self, now: datetime) -> dict[str, Any]:
        expires = now + self.settings.lease
        return {"lease_expires_at": expires, "watchdog_at": self.watchdog(expires)}

    def watchdog(self, at: datetime) -> datetime:
        return min(at, self.run.deadline_at)


class Heartbeat:
    """Renews the lease while a long step runs, so a live runner is never taken over.

    The Firestore call is made without the commit lock: a renewal that hangs
    in the client's retries must not hold up the steps' commits. The two
    race on the version, and whichever loses sees a stale write and judges
    it: a step commit that lost adopts the renewed version; a renewal that
    lost to our own commit has nothing to do (that commit renewed the lease).
    """

    def __init__(self, fence: RunFence) -> None:
        self.fence = fence
        self.interval = max(fence.settings.lease.total_seconds() / 3, 0.05)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        fence = self.fence
        while not self._done.wait(self.interval):
            with fence.lock:
                if fence.stopped is not None:
                    return  # handed over, parked WAITING, or no longer ours: renew nothing
                now = fence.clock()
                if (now - fence.last_write).total_seconds() < self.interval:
                    continue
                seen = fence.version
                # Buffered pure-step records ride along, as on any commit.
                patch = RunPatch(fields=fence.lease_fields(now), steps=dict(fence.buffer))
            try:
                version = fence.store.update(fence.run.run_id, seen, patch)
            except StaleRun:
                if not self._judge_stale(seen):
                    return
                continue
            except Exception:
                log.exception("lease renewal failed; will try again")
                continue
            with fence.lock:
                if fence.version is seen:
                    fence.version = version
                    fence.applied(patch)

    def _judge_stale(self, seen: object) -> bool:
        """False when the run is no longer ours (the runner stops at its next stage)."""
        fence = self.fence
        try:
            fresh = fence.store.load(fence.run.run_id)
        except Exception:
            log.exception("lease renewal could not reload the run; will try again")
            return True
        with fence.lock:
            if fence.version is not seen:
                return True  # our own commit moved the run on, renewing the lease
            try:
                fence.judge(fresh)
            except Stop as stop:
                fence.stopped = stop.outcome
                return False
        return True
