"""Fair per-tenant concurrency: at most `limit` runs of a tenant execute at once.

A tenant has `limit` slot documents (`SlotStore.slot_path`). A delivery
takes a free slot in the same commit as its claim of the run (a `create`,
or a conditional `update` when it takes over a slot), so the limit costs no
extra round trip and holds under concurrent deliveries on any number of
instances: two deliveries wanting one slot cannot both commit.

A slot whose holder run has ended, or whose holder's lease has expired (the
worker died), may be taken over, conditional on the slot being unchanged.
A delivery that finds no slot parks the run: it stays QUEUED, marked as
waiting for a slot since when and placed in its tenant's line, with its
watchdog pushed out, and the delivery acknowledges (no thread is held).
When a run leaves its slot (it ended, or was released for a retry) the
slot is deleted and the tenant's longest-waiting run is published; the
sweep publishes parked runs too, as the safety net.

Whether anyone waits at all is kept in the tenant's line marker, a document
the park's commit writes: leaving reads that one document and looks for
the longest-waiting run only when it exists (and deletes it, conditionally,
when the line turns out empty). The line query filters and orders the runs
collection; the marker spares it for every run of a tenant nobody waits
behind (on the Firestore emulator, which scans the collection for it, the
query cost grows with the number of runs stored).

Costs when no limit is hit: the slot's create and delete (two writes, in
the claim's and the completing commit) and the marker's read at the end; a
run's first claim tries a slot at random without querying the tenant's
slots, and queries them only if that slot was taken.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.engine.records import RunRecord, RunStatus, Write
from shared.engine.settings import EngineSettings
from shared.engine.store import EventPublisher, LoadedRun, RunPatch, RunStore
from shared.errors import StaleRun

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Slot:
    index: int
    run_id: str
    # The slot document's version, for conditional takeover and release.
    version: object


class SlotStore(Protocol):
    def slot_path(self, tenant_id: str, index: int) -> str:
        """The document of one of the tenant's slots."""

    def slots(self, tenant_id: str) -> list[Slot]:
        """The tenant's taken slots: one query."""

    def release_slot(self, tenant_id: str, index: int, version: object) -> bool:
        """Delete the slot if it is still at `version`; False if it changed (taken over)."""

    def next_waiting(self, tenant_id: str) -> LoadedRun | None:
        """The tenant's parked run that has waited longest, if any: one query."""

    def line_path(self, tenant_id: str) -> str:
        """The tenant's line marker: present while a run of the tenant may be parked."""

    def line(self, tenant_id: str) -> object | None:
        """The line marker's version, or None if nobody has parked since it was closed."""

    def close_line(self, tenant_id: str, version: object) -> bool:
        """Delete the marker if it is still at `version`; False if a run parked meanwhile."""


class RunsAndSlots(RunStore, SlotStore, Protocol):
    """The store the engine runs on: its runs and its tenants' slots."""


class TenantSlots:
    """The engine's side of the limit; shared by every delivery of a process."""

    def __init__(
        self,
        store: RunsAndSlots,
        publisher: EventPublisher,
        limit: int,
        settings: EngineSettings,
    ) -> None:
        self.runs: RunStore = store
        self.slots: SlotStore = store
        self.publisher = publisher
        self.limit = limit
        self.settings = settings

    def take(
        self, run: RunRecord, now: datetime, *, look: bool = False
    ) -> tuple[int, Write] | None:
        """The slot this run can take and the write that takes it, or None (park).

        A run that has never held a slot tries one at random without looking
        (its `create` fails if the slot is taken, and the claim is then made
        again with `look`): most tenants have a free slot most of the time,
        so most claims need no slot query at all. A run that held one before
        (a redelivery after a crash, a retry) always looks, to find its own.
        """
        data = {"runId": run.run_id, "tenantId": run.tenant_id, "takenAt": now}
        if not look and run.slot is None:
            index = secrets.randbelow(self.limit)
            path = self.slots.slot_path(run.tenant_id, index)
            return index, Write(path=path, data=data, mode="create")
        taken = {s.index: s for s in self.slots.slots(run.tenant_id) if s.index < self.limit}
        for slot in taken.values():
            if slot.run_id == run.run_id:
                return slot.index, self._write(run, slot, data)
        free = [k for k in range(self.limit) if k not in taken]
        if free:
            # Chosen at random so concurrent deliveries rarely race for one.
            index = secrets.choice(free)
            path = self.slots.slot_path(run.tenant_id, index)
            return index, Write(path=path, data=data, mode="create")
        for slot in sorted(taken.values(), key=lambda s: s.index):
            holder = self.runs.load(slot.run_id)
            if holder is None or _abandoned(holder.record, slot.index, now):
                log.warning("taking over a slot its holder no longer uses", extra=_of(slot))
                return slot.index, self._write(run, slot, data)
        return None

    def _write(self, run: RunRecord, slot: Slot, data: dict[str, object]) -> Write:
        path = self.slots.slot_path(run.tenant_id, slot.index)
        return Write(path=path, data=data, mode="update", if_version=slot.version)

    def line_write(self, run: RunRecord, now: datetime) -> Write:
        """Rides on the park's commit: the tenant's line has someone in it.

        Its data differs on every park (Firestore keeps a document's version
        when a write leaves it unchanged), so a park always moves the version
        a concurrent `close_line` is conditional on.
        """
        path = self.slots.line_path(run.tenant_id)
        data = {"tenantId": run.tenant_id, "runId": run.run_id, "parkedAt": now}
        return Write(path=path, data={**data, "mark": secrets.token_hex(8)}, mode="put")

    def park_fields(self, run: RunRecord, now: datetime) -> dict[str, object]:
        """The run waits QUEUED in its tenant's line; the sweep looks again later."""
        return {
            "status": RunStatus.QUEUED,
            "waiting_for_slot": run.waiting_for_slot or now,
            "slot_queue": run.created_at,
            "slot": None,
            "lease_owner": None,
            "lease_expires_at": None,
            "watchdog_at": self.settings.watchdog(now, run.deadline_at),
        }

    def parked(self, tenant_id: str) -> None:
        """After parking: if a slot freed meanwhile, its holder may have missed us."""
        taken = [s for s in self.slots.slots(tenant_id) if s.index < self.limit]
        if len(taken) < self.limit:
            self.wake(tenant_id)

    def release_write(self, run: RunRecord, index: int, version: object) -> Write:
        """Gives the slot back inside the commit that ends the run (if still ours then).

        Saves the release's own commit on every run that completes; should
        the slot have been taken over meanwhile (this delivery's lease had
        lapsed), the commit is made again without it (`Commits`).
        """
        path = self.slots.slot_path(run.tenant_id, index)
        return Write(path=path, data={}, mode="delete", if_version=version)

    def released(self, run: RunRecord) -> None:
        """After the run's last commit gave its slot back: start the tenant's next run."""
        try:
            self.wake(run.tenant_id)
        except Exception:
            log.exception("could not start the tenant's next waiting run")

    def leave(self, run: RunRecord, version: object) -> None:
        """Give the slot back (if still ours) and start the tenant's next waiting run."""
        if run.slot is None:
            return
        try:
            self.slots.release_slot(run.tenant_id, run.slot, version)
            self.wake(run.tenant_id)
        except Exception:
            # The slot is taken over once the run's lease expires, and the
            # sweep publishes parked runs: nothing waits forever.
            log.exception("could not release the run's slot")

    def wake(self, tenant_id: str) -> None:
        """Publish the tenant's longest-waiting run, taking it out of the line first.

        A run that ended while in line (cancelled, say) is only taken out.
        Nothing is looked for while the tenant's line marker is absent; when the
        line is found empty the marker is closed, unless a run parked since it
        was read (that run's own check, `parked`, then sees any free slot).
        """
        line = self.slots.line(tenant_id)
        if line is None:
            return
        for _ in range(5):
            waiting = self.slots.next_waiting(tenant_id)
            if waiting is None:
                self.slots.close_line(tenant_id, line)
                return
            run = waiting.record
            try:
                # Out of the line, so concurrent wakers publish different runs.
                self.runs.update(run.run_id, waiting.version, RunPatch(fields={"slot_queue": None}))
            except StaleRun:
                continue
            if run.status.terminal:
                continue
            self.publisher.publish_run(run.run_id, run.workflow)
            log.info("published the tenant's next waiting run", extra={"runId": run.run_id})
            return


def _abandoned(holder: RunRecord, index: int, now: datetime) -> bool:
    return holder.status.terminal or holder.slot != index or not holder.lease_live(now)


def _of(slot: Slot) -> dict[str, object]:
    return {"slot": slot.index, "holder": slot.run_id}
