"""A stopping instance hands its runs over (engine level, on the in-memory store).

What the worker's SIGTERM calls (`Engine.hand_over`): runs in flight are
released and published and their pushes answered at once; a step's late
result never lands; a commit under way lands first; nothing runs twice
although the republished message and a redelivery of the push may both
arrive. The real process with the emulators: tests/test_stopping_worker.py.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from shared.engine import EngineSettings, RunPatch, Write
from shared.engine.testing import InMemoryRunStore
from tests.helpers.engine_support import SETTINGS, Harness, Recorder, linear_workflow
from tests.helpers.faults import SimulatedCrash


class _Mid:
    """Holds the `compute` step's body (as a model call would) until released."""

    def __init__(self, recorder: Recorder) -> None:
        self.inside = threading.Event()
        self.release = threading.Event()
        self.thread: threading.Thread | None = None  # the delivery's thread, once inside
        recorder.on["compute"] = self._hold

    def _hold(self, ctx: Any) -> None:
        if not self.release.is_set():
            self.thread = threading.current_thread()
            self.inside.set()
            self.release.wait(10)


def _deliver_in_thread(engine: Harness) -> tuple[threading.Thread, list[str]]:
    outcomes: list[str] = []
    thread = threading.Thread(target=lambda: outcomes.append(engine.deliver()))
    thread.start()
    return thread, outcomes


def test_a_run_mid_step_is_released_published_and_its_push_answered(
    engine: Harness, recorder: Recorder
):
    mid = _Mid(recorder)
    engine.start(linear_workflow(recorder))
    engine.publisher.published.clear()
    thread, outcomes = _deliver_in_thread(engine)
    assert mid.inside.wait(10)

    report = engine.engine.hand_over()
    thread.join(10)

    assert outcomes == ["HANDED_OVER"]  # answered while the step still runs
    assert report.handed_over == 1
    run = engine.run()
    assert (run.lease_owner, run.lease_expires_at) == (None, None)
    assert engine.publisher.published == ["run-1"]
    # The attempt is given back: a deploy is not the step's failure.
    assert run.steps["compute"].attempts == 0
    mid.release.set()


def test_a_handed_over_steps_late_result_never_lands(engine: Harness, recorder: Recorder):
    mid = _Mid(recorder)
    engine.start(linear_workflow(recorder))
    thread, _ = _deliver_in_thread(engine)
    assert mid.inside.wait(10)
    engine.engine.hand_over()
    thread.join(10)
    before = engine.run()

    mid.release.set()  # the abandoned step returns now, on the stopped instance
    assert mid.thread is not None
    mid.thread.join(10)  # its commit refused, the delivery's thread ends

    assert not mid.thread.is_alive()
    assert engine.run().steps == before.steps
    assert engine.store.read("results/run-1-compute") is None
    assert recorder.calls["save"] == 0


def test_a_delivery_arriving_while_stopping_is_published_again_not_run(
    engine: Harness, recorder: Recorder
):
    engine.start(linear_workflow(recorder))
    engine.engine.hand_over()
    engine.publisher.published.clear()

    assert engine.deliver() == "HANDED_OVER"
    assert engine.publisher.published == ["run-1"]
    assert engine.run().deliveries == 0
    assert sum(recorder.calls.values()) == 0


def test_the_republished_run_and_a_redelivered_push_together_run_each_step_once(
    recorder: Recorder,
):
    store = InMemoryRunStore()
    stopping = Harness(store=store)
    mid = _Mid(recorder)
    stopping.start(linear_workflow(recorder))
    thread, _ = _deliver_in_thread(stopping)
    assert mid.inside.wait(10)
    stopping.engine.hand_over()
    thread.join(10)
    mid.release.set()

    # Another instance gets the republished message and, its 2xx having
    # been lost, Pub/Sub's redelivery of the push as well, at the same time.
    other = Harness(store=store)
    other.workflows.update(stopping.workflows)
    outcomes: list[str] = []
    both = [threading.Thread(target=lambda: outcomes.append(other.deliver())) for _ in range(2)]
    for t in both:
        t.start()
    for t in both:
        t.join(10)

    assert sorted(outcomes) in (
        ["COMPLETED", "LEASED_ELSEWHERE"],
        ["ALREADY_FINISHED", "COMPLETED"],
    )
    assert other.run().status.value == "COMPLETED"
    assert recorder.calls["save"] == 1
    assert other.store.read("results/run-1-compute") == {"attempt": 1}
    assert other.run().steps["compute"].attempts == 1


class _SlowStepCommit(InMemoryRunStore):
    """The `compute` checkpoint's commit takes a while: the handover comes meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.committing = threading.Event()

    def update(
        self, run_id: str, version: object, patch: RunPatch, writes: Sequence[Write] = ()
    ) -> object:
        step = patch.steps.get("compute")
        if step is not None and step.output is not None:
            self.committing.set()
            threading.Event().wait(0.2)
        return super().update(run_id, version, patch, writes)


def test_a_step_commit_under_way_lands_before_the_run_is_handed_over(recorder: Recorder):
    store = _SlowStepCommit()
    engine = Harness(store=store)
    engine.start(linear_workflow(recorder))
    thread, _ = _deliver_in_thread(engine)
    assert store.committing.wait(10)

    engine.engine.hand_over()
    thread.join(10)

    run = engine.run()
    assert run.steps["compute"].status.value == "COMPLETED"
    assert engine.store.read("results/run-1-compute") == {"attempt": 1}
    assert run.lease_owner is None  # released after it (or the run completed meanwhile)


def test_a_redelivery_after_a_crash_waits_out_the_dead_workers_lease(recorder: Recorder):
    """SIGKILL: the push comes back after Pub/Sub's backoff and takes the run at lease expiry."""
    settings = EngineSettings(
        lease=timedelta(seconds=0.2),
        lease_wait=timedelta(seconds=2),
        step_max_attempts=SETTINGS.step_max_attempts,
    )
    engine = Harness(settings)

    def crash(ctx: Any) -> None:
        raise SimulatedCrash

    recorder.on["compute"] = crash
    engine.start(linear_workflow(recorder))
    with contextlib.suppress(SimulatedCrash):
        engine.deliver()  # dies holding the lease
    recorder.on.clear()
    # The fake clock passes the lease while the redelivery waits for it.
    timer = threading.Timer(0.05, lambda: engine.clock.advance(0.3))
    timer.start()

    assert engine.deliver() == "COMPLETED"
    timer.join()
    assert recorder.calls["compute"] == 2
