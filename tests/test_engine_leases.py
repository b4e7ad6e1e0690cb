"""One runner at a time: leases, fencing, and the heartbeat that keeps a live runner's lease."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from shared.engine import EngineSettings, RunPatch, Write
from shared.engine.testing import InMemoryRunStore
from tests.helpers.engine_support import Harness, Recorder, linear_workflow
from tests.helpers.faults import SimulatedCrash

# A lease short enough for the heartbeat to renew it within these tests.
SHORT_LEASE = EngineSettings(lease=timedelta(seconds=0.15), step_max_attempts=3)


def _crash(ctx: Any) -> None:
    raise SimulatedCrash


def test_a_live_lease_of_another_delivery_means_acknowledge_and_leave(
    engine: Harness, recorder: Recorder
):
    recorder.on["compute"] = _crash
    engine.start(linear_workflow(recorder))
    with pytest.raises(SimulatedCrash):
        engine.deliver()  # dies holding the lease
    recorder.on.clear()

    assert engine.deliver() == "LEASED_ELSEWHERE"
    assert recorder.calls["compute"] == 1


def test_an_expired_lease_is_taken_over(engine: Harness, recorder: Recorder):
    recorder.on["compute"] = _crash
    engine.start(linear_workflow(recorder))
    with pytest.raises(SimulatedCrash):
        engine.deliver()
    recorder.on.clear()
    engine.after_lease()

    assert engine.deliver() == "COMPLETED"
    assert engine.run().deliveries == 2


def test_a_runner_that_lost_its_lease_stops_and_its_step_effects_never_land(
    engine: Harness, recorder: Recorder
):
    def taken_over_meanwhile(ctx: Any) -> None:
        if ctx.attempt == 1:
            # This step outlived its lease (no heartbeat in this test: the
            # lease is 30 s of fake time) and another delivery took the run.
            recorder.on.clear()
            engine.after_lease()
            assert engine.deliver() == "COMPLETED"

    recorder.on["compute"] = taken_over_meanwhile
    engine.start(linear_workflow(recorder))

    assert engine.deliver() == "ALREADY_FINISHED"

    # Only the second delivery's attempt wrote its effect.
    assert engine.store.read("results/run-1-compute") == {"attempt": 2}
    assert engine.subject()["value"] == 2
    assert recorder.calls["save"] == 1


class _HangingRenewals(InMemoryRunStore):
    """Lease renewals (a patch of lease fields only) hang until released, like a stuck call."""

    def __init__(self) -> None:
        super().__init__()
        self.renewal_started = threading.Event()
        self.release_renewals = threading.Event()
        self.step_committed = threading.Event()

    def update(
        self, run_id: str, version: object, patch: RunPatch, writes: Sequence[Write] = ()
    ) -> object:
        renewal = "compute" not in patch.steps and set(patch.fields) == {
            "lease_expires_at",
            "watchdog_at",
        }
        if renewal:
            self.renewal_started.set()
            self.release_renewals.wait(10)
        result = super().update(run_id, version, patch, writes)
        if "compute" in patch.steps and patch.steps["compute"].output is not None:
            self.step_committed.set()
        return result


def test_a_hanging_lease_renewal_does_not_hold_up_a_steps_commit(recorder: Recorder):
    store = _HangingRenewals()
    engine = Harness(SHORT_LEASE, store=store)

    def long_step(ctx: Any) -> None:
        engine.clock.advance(0.1)  # time for a renewal
        assert store.renewal_started.wait(10), "the heartbeat never renewed"

    recorder.on["compute"] = long_step
    engine.start(linear_workflow(recorder))
    delivery = threading.Thread(target=engine.deliver)
    delivery.start()

    committed = store.step_committed.wait(10)
    store.release_renewals.set()
    delivery.join(10)

    assert committed, "the step's commit waited for the hanging renewal"
    assert engine.run().status.value == "COMPLETED"


def test_the_heartbeat_keeps_the_lease_of_a_step_longer_than_the_lease(recorder: Recorder):
    engine = Harness(SHORT_LEASE)
    first_expiry: list[Any] = []
    renewed = threading.Event()

    def long_step(ctx: Any) -> None:
        first_expiry.append(engine.run().lease_expires_at)
        for _ in range(200):
            engine.clock.advance(0.05)
            if engine.run().lease_expires_at != first_expiry[0]:
                renewed.set()
                break
            threading.Event().wait(0.02)
        # Past the first lease's expiry: only the renewal keeps duplicates out.
        assert engine.deliver() == "LEASED_ELSEWHERE"

    recorder.on["compute"] = long_step
    engine.start(linear_workflow(recorder))

    assert engine.deliver() == "COMPLETED"
    assert renewed.is_set()
    assert recorder.calls["compute"] == 1


def test_a_renewal_carries_the_records_of_pure_steps_waiting_for_a_commit(recorder: Recorder):
    engine = Harness(SHORT_LEASE)

    def long_step_then_crash(ctx: Any) -> None:
        for _ in range(200):
            engine.clock.advance(0.05)
            if engine.run().lease_expires_at != ctx.now + timedelta(seconds=0.15):
                break
            threading.Event().wait(0.02)
        raise SimulatedCrash  # the step's own commit never happens

    recorder.on["compute"] = long_step_then_crash
    engine.start(linear_workflow(recorder))
    with pytest.raises(SimulatedCrash):
        engine.deliver()

    # `load` is pure: its record waited for the next commit, which was a renewal.
    assert engine.run().steps["load"].status.value == "COMPLETED"
