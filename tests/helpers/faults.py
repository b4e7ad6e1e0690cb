"""Fault injection around the real Firestore store: a process "dies" at a chosen commit.

`SimulatedCrash` is a BaseException, so nothing in the engine catches it:
like a killed process, the delivery stops where it is, its lease still held
and nothing released.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shared.engine import RunPatch, RunStore, StepStatus, Write


class SimulatedCrash(BaseException):
    """The process "dies" here: its lease held, nothing released (the one definition; see above)."""


@dataclass
class CrashingStore:
    """Crashes once: before or after the commit that completes `step`, or right after the claim.

    `step` may end with "*" to match a prefix (fan-out steps), and `after`
    says how many matching commits land before the crash. Once crashed the
    "process" is dead: every later write from it fails too, as it would.
    """

    inner: RunStore
    point: str  # "after-claim" | "before-commit" | "after-commit"
    step: str | None = None
    after: int = 1
    armed: bool = True
    dead: bool = False
    seen: int = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _matches(self, patch: RunPatch) -> bool:
        if not self.armed:
            return False
        if self.point == "after-claim":
            return "lease_owner" in patch.fields and patch.fields["lease_owner"] is not None
        completed = {s for s, r in patch.steps.items() if r.status is StepStatus.COMPLETED}
        step = self.step or ""
        if step.endswith("*"):
            return any(s.startswith(step[:-1]) for s in completed)
        return step in completed

    def update(
        self, run_id: str, version: object, patch: RunPatch, writes: Sequence[Write] = ()
    ) -> object:
        if self.dead:
            raise SimulatedCrash("this process is dead")
        hit = self._matches(patch)
        if hit and self.point == "before-commit":
            self.seen += 1
            if self.seen >= self.after:
                self.armed, self.dead = False, True
                raise SimulatedCrash(f"crash before committing {self.step}")
        result = self.inner.update(run_id, version, patch, writes)
        if hit and self.point != "before-commit":
            self.seen += 1
            if self.seen >= self.after:
                self.armed, self.dead = False, True
                raise SimulatedCrash(f"crash after {self.point} {self.step or ''}")
        return result


@dataclass
class FailingCommitStore:
    """The store's commit that completes `step` raises `error`, `times` times; then it works.

    Unlike a crash, the process lives on and sees the error, as it sees a
    Firestore error after a step's body returned. With `landed`, the commit
    is applied before the error is raised (an answer lost on its way back).
    """

    inner: RunStore
    step: str
    error: Exception
    times: int = 1
    landed: bool = False
    raised: int = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def update(
        self, run_id: str, version: object, patch: RunPatch, writes: Sequence[Write] = ()
    ) -> object:
        completes = any(
            step_id == self.step and record.status is StepStatus.COMPLETED
            for step_id, record in patch.steps.items()
        )
        if not completes or self.raised >= self.times:
            return self.inner.update(run_id, version, patch, writes)
        self.raised += 1
        if self.landed:
            self.inner.update(run_id, version, patch, writes)
        raise self.error


@dataclass
class PoisonedCommitStore:
    """Adds `poison` to the commit that completes `step`, so Firestore itself refuses it.

    The error then comes from the real store over the wire (an emulator's
    InvalidArgument for a value over Firestore's limits, say), not from a stand-in.
    """

    inner: RunStore
    step: str
    poison: Write

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def update(
        self, run_id: str, version: object, patch: RunPatch, writes: Sequence[Write] = ()
    ) -> object:
        completes = any(
            step_id == self.step and record.status is StepStatus.COMPLETED
            for step_id, record in patch.steps.items()
        )
        extra = [self.poison] if completes else []
        return self.inner.update(run_id, version, patch, [*writes, *extra])
