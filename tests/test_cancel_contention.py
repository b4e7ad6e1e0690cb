"""Cancelling a run whose runner keeps committing: retried, then 409, never a 500.

Contention is injected around the real Firestore store: just before each
cancel's conditional commit, a "runner" commits to the same run first (a
lease renewal, as a live runner does), so the cancel's precondition fails
for real in the emulator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from shared.engine import RunPatch, RunStatus, RunStore, Write
from tests.helpers.stack import Stack


@dataclass
class RunnerCommitsFirst:
    """The real store, with a competing runner commit landing ahead of `times` cancels."""

    inner: RunStore
    times: int
    cancels_tried: int = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def update(
        self, run_id: str, version: object, patch: RunPatch, writes: Sequence[Write] = ()
    ) -> object:
        if patch.fields.get("status") == RunStatus.CANCELLED:
            self.cancels_tried += 1
            if self.cancels_tried <= self.times:
                self._runner_commits(run_id)
        return self.inner.update(run_id, version, patch, writes)

    def _runner_commits(self, run_id: str) -> None:
        current = self.inner.load(run_id)
        assert current is not None
        renewed = (current.record.lease_expires_at or current.record.created_at) + timedelta(
            seconds=1
        )
        self.inner.update(
            run_id,
            current.version,
            RunPatch(fields={"lease_owner": "runner-1", "lease_expires_at": renewed}),
        )


def _contend(stack: Stack, times: int) -> RunnerCommitsFirst:
    store = RunnerCommitsFirst(stack.services.store, times)
    stack.use_store(store)
    return store


def test_a_cancel_that_loses_a_race_retries_and_cancels(stack: Stack):
    created = stack.create_brainstorm()
    store = _contend(stack, times=2)

    response = stack.post(f"/v1/runs/{created['runId']}/cancel", {})

    assert response.status_code == 202, response.get_json()
    assert store.cancels_tried == 3
    assert stack.run_view(created["runId"])["status"] == "CANCELLED"


def test_a_cancel_that_loses_every_race_is_409_and_changes_nothing(stack: Stack):
    created = stack.create_brainstorm()
    store = _contend(stack, times=1000)

    response = stack.post(f"/v1/runs/{created['runId']}/cancel", {})

    assert response.status_code == 409, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "conflict"
    assert "try again" in response.get_json()["error"]["message"]
    assert store.cancels_tried > 1
    assert stack.run_view(created["runId"])["status"] == "QUEUED"
    session = stack.get(f"/v1/brainstorm-sessions/{created['sessionId']}").get_json()
    assert session["status"] == "IN_PROGRESS"
