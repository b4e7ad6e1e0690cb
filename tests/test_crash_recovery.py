"""A worker that dies at any step boundary loses nothing and duplicates nothing.

Each case kills the delivery at one point (its lease still held), checks
that a redelivery while the lease is live leaves the run alone, then lets the
lease expire, lets the sweep re-publish the run, and delivers it again.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.helpers.faults import CrashingStore, SimulatedCrash
from tests.helpers.stack import Stack

LEASE = 1.0
SEEDS = 6


@pytest.fixture
def stack_env() -> dict[str, str]:
    # A redelivery acknowledges a live lease at once (no waiting for it):
    # these cases recover through the sweep (the wait: test_stopping_worker.py).
    return {"LEASE_SECONDS": str(LEASE), "LEASE_WAIT_SECONDS": "0"}


CRASH_POINTS = [
    # (point, step, LLM calls in total)
    ("after-claim", None, 1),
    ("before-commit", "generate-seeds", 2),
    ("after-commit", "generate-seeds", 1),
    ("before-commit", "save-seeds", 1),
    ("after-commit", "save-seeds", 1),
    ("before-commit", "update-session", 1),
    ("after-commit", "update-session", 1),
]


def _crash_once(stack: Stack, point: str, step: str | None) -> tuple[str, str, bytes]:
    real = stack.services.store
    stack.use_store(CrashingStore(real, point=point, step=step))
    created = stack.create_brainstorm(seedCount=SEEDS)
    [message] = stack.pull()
    with pytest.raises(SimulatedCrash):
        stack.push(message.data, dict(message.attributes))
    stack.use_store(real)
    return created["sessionId"], created["runId"], message.data


@pytest.mark.parametrize(("point", "step", "llm_calls"), CRASH_POINTS)
def test_run_completes_after_a_crash_with_each_effect_exactly_once(
    stack: Stack, point: str, step: str | None, llm_calls: int
):
    session_id, run_id, data = _crash_once(stack, point, step)

    finished_by_crashed_commit = (point, step) == ("after-commit", "update-session")
    if not finished_by_crashed_commit:
        # The dead delivery still holds its lease: a redelivery now must not run anything.
        stack.push(data, {"runId": run_id})
        assert stack.run_doc(run_id)["status"] == "RUNNING"
        time.sleep(LEASE + 0.2)
        stack.sweep()
        assert stack.published_run_ids() == [run_id]
        stack.push(data, {"runId": run_id})

    session = stack.get(f"/v1/brainstorm-sessions/{session_id}").get_json()
    assert session["status"] == "COMPLETED"
    seeds = stack.services.db.collection(f"brainstormSessions/{session_id}/seeds").get()
    assert len(seeds) == SEEDS
    assert len(stack.llm.requests) == llm_calls
    run = stack.run_view(run_id)
    assert run["status"] == "COMPLETED"
    assert all(s["status"] == "COMPLETED" for s in run["steps"])


def test_a_crash_before_the_llm_checkpoint_counts_as_a_second_attempt(stack: Stack):
    _, run_id, data = _crash_once(stack, "before-commit", "generate-seeds")
    time.sleep(LEASE + 0.2)
    stack.push(data, {"runId": run_id})

    steps = {s["id"]: s for s in stack.run_view(run_id)["steps"]}
    assert steps["generate-seeds"]["attempts"] == 2
    assert steps["save-seeds"]["attempts"] == 1


def test_checkpointed_llm_output_is_reused_not_regenerated(stack: Stack):
    session_id, run_id, data = _crash_once(stack, "after-commit", "generate-seeds")
    checkpoint = json.loads(stack.run_doc(run_id)["steps"]["generate-seeds"]["output"])
    time.sleep(LEASE + 0.2)
    stack.push(data, {"runId": run_id})

    seeds = stack.get(f"/v1/brainstorm-sessions/{session_id}").get_json()["seeds"]
    assert [s["title"] for s in seeds] == [s["title"] for s in checkpoint["seeds"]]
