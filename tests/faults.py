"""Fault injection around the real Firestore store: a process "dies" at a chosen commit.

`SimulatedCrash` is a BaseException, so nothing in the engine catches it:
like a killed process, the delivery stops where it is, its lease still held
and nothing released.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shared.engine.model import StepStatus, Write
from shared.engine.store import RunPatch, RunStore


class SimulatedCrash(BaseException):
    pass


@dataclass
class CrashingStore:
    """Crashes once: before or after the commit that completes `step`, or right after the claim."""

    inner: RunStore
    point: str  # "after-claim" | "before-commit" | "after-commit"
    step: str | None = None
    armed: bool = True
    commits: int = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _matches(self, patch: RunPatch) -> bool:
        if not self.armed:
            return False
        if self.point == "after-claim":
            return "lease_owner" in patch.fields and patch.fields["lease_owner"] is not None
        completed = {s for s, r in patch.steps.items() if r.status is StepStatus.COMPLETED}
        return self.step in completed

    def update(
        self, run_id: str, version: object, patch: RunPatch, writes: Sequence[Write] = ()
    ) -> object:
        hit = self._matches(patch)
        if hit and self.point == "before-commit":
            self.armed = False
            raise SimulatedCrash(f"crash before committing {self.step}")
        result = self.inner.update(run_id, version, patch, writes)
        self.commits += 1
        if hit:
            self.armed = False
            raise SimulatedCrash(f"crash after {self.point} {self.step or ''}")
        return result
