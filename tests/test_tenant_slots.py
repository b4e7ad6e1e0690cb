"""Fair per-tenant concurrency (TENANT_MAX_ACTIVE_RUNS) on the in-memory store and a fake clock.

Runs beyond the tenant's limit wait QUEUED and start oldest first as the
tenant's runs finish; the limit holds under concurrent deliveries; a slot
held by a dead worker or an ended run is taken over; nothing waits forever.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from shared.engine import RunPatch, RunStatus, Slot, StepContext, Write, run_view
from tests.helpers.engine_support import SETTINGS, Harness, Recorder, linear_workflow
from tests.helpers.faults import SimulatedCrash


@pytest.fixture
def limited(engine: Harness) -> Harness:
    engine.settings = replace(engine.settings, tenant_max_active_runs=1)
    return engine


def _start(engine: Harness, recorder: Recorder, *run_ids: str, tenant: str = "org-a") -> None:
    workflow = linear_workflow(recorder)
    for run_id in run_ids:
        engine.start(workflow, run_id, tenant=tenant)
        engine.clock.advance(1)  # distinct creation times: "oldest" is well defined


def _in_run(run_id: str, action: Any) -> Any:
    """A step hook that acts only inside the given run's step."""

    def hook(ctx: StepContext[Any]) -> None:
        if ctx.run_id == run_id:
            action()

    return hook


def test_a_run_beyond_the_limit_waits_queued_and_visible_as_waiting_for_a_slot(
    limited: Harness, recorder: Recorder
):
    _start(limited, recorder, "run-1", "run-2")
    seen: dict[str, Any] = {}

    def second_delivery() -> None:
        seen["outcome"] = limited.deliver("run-2")
        seen["run"] = limited.run("run-2")

    recorder.on["compute"] = _in_run("run-1", second_delivery)
    assert limited.deliver("run-1") == "COMPLETED"

    assert seen["outcome"] == "WAITING_FOR_SLOT"
    waiting = seen["run"]
    assert waiting.status is RunStatus.QUEUED
    assert waiting.lease_owner is None
    assert waiting.waiting_for_slot == limited.clock()
    # Pushed out: the sweep is only the safety net.
    assert waiting.watchdog_at == limited.clock() + timedelta(seconds=120)
    assert run_view(waiting, None).model_dump(by_alias=True)["waitingForSlot"] is not None
    assert recorder.calls["compute"] == 1  # run-2's steps did not run


def test_a_finishing_run_starts_the_tenants_oldest_waiting_run(
    limited: Harness, recorder: Recorder
):
    _start(limited, recorder, "run-1", "run-2", "run-3")

    def others_arrive() -> None:
        # Newest first, so the order they parked in is not the order they came.
        assert limited.deliver("run-3") == "WAITING_FOR_SLOT"
        assert limited.deliver("run-2") == "WAITING_FOR_SLOT"

    recorder.on["compute"] = _in_run("run-1", others_arrive)
    limited.publisher.published.clear()
    assert limited.deliver("run-1") == "COMPLETED"
    assert limited.publisher.published == ["run-2"]

    assert limited.deliver("run-2") == "COMPLETED"
    assert limited.publisher.published == ["run-2", "run-3"]
    assert limited.deliver("run-3") == "COMPLETED"
    assert limited.run("run-3").waiting_for_slot is None
    assert limited.store.slots("org-a") == []


def test_a_waiting_run_cancelled_in_line_does_not_take_the_next_start(
    limited: Harness, recorder: Recorder
):
    _start(limited, recorder, "run-1", "run-2", "run-3")

    def others_arrive_and_one_is_cancelled() -> None:
        assert limited.deliver("run-2") == "WAITING_FOR_SLOT"
        assert limited.deliver("run-3") == "WAITING_FOR_SLOT"
        limited.cancel("run-2")

    recorder.on["compute"] = _in_run("run-1", others_arrive_and_one_is_cancelled)
    limited.publisher.published.clear()
    assert limited.deliver("run-1") == "COMPLETED"
    assert limited.publisher.published == ["run-3"]


def test_other_tenants_are_not_held_up_by_a_full_tenant(limited: Harness, recorder: Recorder):
    _start(limited, recorder, "a-1", "a-2")
    _start(limited, recorder, "b-1", tenant="org-b")
    seen: list[str] = []

    def others_arrive() -> None:
        seen.append(limited.deliver("a-2"))
        seen.append(limited.deliver("b-1"))

    recorder.on["compute"] = _in_run("a-1", others_arrive)
    assert limited.deliver("a-1") == "COMPLETED"
    assert seen == ["WAITING_FOR_SLOT", "COMPLETED"]


def test_the_limit_holds_under_concurrent_deliveries(engine: Harness, recorder: Recorder):
    engine.settings = replace(engine.settings, tenant_max_active_runs=3)
    run_ids = [f"run-{i}" for i in range(12)]
    _start(engine, recorder, *run_ids)
    active = peak = 0
    changed = threading.Condition()

    def occupy(ctx: StepContext[Any]) -> None:
        nonlocal active, peak
        with changed:
            active += 1
            peak = max(peak, active)
            changed.notify_all()
            # Hold the slot until every slot is taken (at most 5 s), however
            # slowly a loaded machine starts the threads, then a while longer.
            changed.wait_for(lambda: peak >= 3, timeout=5)
        time.sleep(0.02)
        with changed:
            active -= 1

    recorder.on["compute"] = occupy
    engine.publisher.published.clear()
    threads = [threading.Thread(target=engine.deliver, args=(r,)) for r in run_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # What finishing runs published, delivered until nothing is left.
    for _ in range(100):
        if not engine.publisher.published:
            break
        engine.deliver(engine.publisher.published.pop(0))

    assert [engine.run(r).status for r in run_ids] == [RunStatus.COMPLETED] * 12
    assert peak == 3
    assert engine.store.slots("org-a") == []


def test_two_deliveries_racing_for_the_last_slot_cannot_both_take_it(
    limited: Harness, recorder: Recorder
):
    _start(limited, recorder, "run-a", "run-b")
    recorder.on["compute"] = _in_run("run-b", lambda: _raise(SimulatedCrash()))
    real_update = limited.store.update
    raced = False

    def racing_claim(run_id: str, version: object, patch: RunPatch, writes: Any = ()) -> object:
        nonlocal raced
        if run_id == "run-a" and not raced and any(w.mode == "create" for w in writes):
            raced = True
            # Between run-a's choice of the free slot and its claim's commit,
            # run-b takes it (and keeps holding it: its worker is still busy).
            with pytest.raises(SimulatedCrash):
                limited.deliver("run-b")
        return real_update(run_id, version, patch, writes)

    limited.store.update = racing_claim  # type: ignore[method-assign]
    assert limited.deliver("run-a") == "WAITING_FOR_SLOT"
    assert raced
    assert [s.run_id for s in limited.store.slots("org-a")] == ["run-b"]
    assert limited.run("run-a").status is RunStatus.QUEUED


def test_a_slot_held_by_a_dead_worker_comes_back_when_its_lease_expires(
    limited: Harness, recorder: Recorder
):
    _start(limited, recorder, "run-1", "run-2")
    recorder.on["compute"] = _in_run("run-1", lambda: _raise(SimulatedCrash()))
    with pytest.raises(SimulatedCrash):
        limited.deliver("run-1")
    assert limited.deliver("run-2") == "WAITING_FOR_SLOT"  # the lease is still live

    limited.after_lease()
    assert limited.deliver("run-2") == "COMPLETED"
    # The dead worker's run gets a slot again on its redelivery.
    recorder.on.clear()
    assert limited.deliver("run-1") == "COMPLETED"


def test_a_slot_whose_run_ended_elsewhere_is_taken_over_at_once(
    limited: Harness, recorder: Recorder
):
    _start(limited, recorder, "run-1", "run-2")
    recorder.on["compute"] = _in_run("run-1", lambda: _raise(SimulatedCrash()))
    with pytest.raises(SimulatedCrash):
        limited.deliver("run-1")
    limited.cancel("run-1")

    assert limited.deliver("run-2") == "COMPLETED"


def test_a_run_released_for_a_retry_gives_its_slot_to_the_next_waiting_run(
    limited: Harness, recorder: Recorder
):
    _start(limited, recorder, "run-1", "run-2")

    def fail_once() -> None:
        assert limited.deliver("run-2") == "WAITING_FOR_SLOT"
        raise RuntimeError("provider hiccup")

    recorder.on["compute"] = _in_run("run-1", fail_once)
    limited.publisher.published.clear()
    assert limited.deliver("run-1") == "RETRY"
    assert limited.publisher.published == ["run-2"]
    recorder.on.clear()
    assert limited.deliver("run-2") == "COMPLETED"
    assert limited.deliver("run-1") == "COMPLETED"


def test_a_run_that_parks_just_after_the_last_holder_left_wakes_itself(
    limited: Harness, recorder: Recorder
):
    _start(limited, recorder, "run-1", "run-2")
    recorder.on["compute"] = _in_run("run-1", lambda: _raise(SimulatedCrash()))
    with pytest.raises(SimulatedCrash):
        limited.deliver("run-1")
    real_slots = limited.store.slots
    reads = 0

    def holder_leaves_after_first_read(tenant_id: str) -> list[Slot]:
        nonlocal reads
        seen = real_slots(tenant_id)
        reads += 1
        if reads == 1:
            # run-1 leaves now; its wake finds nobody in line yet.
            (slot,) = seen
            assert limited.store.release_slot(tenant_id, slot.index, slot.version)
        return seen

    limited.store.slots = holder_leaves_after_first_read  # type: ignore[method-assign]
    limited.publisher.published.clear()
    assert limited.deliver("run-2") == "WAITING_FOR_SLOT"
    assert limited.publisher.published == ["run-2"]
    limited.store.slots = real_slots  # type: ignore[method-assign]
    assert limited.deliver("run-2") == "COMPLETED"


def test_the_sweep_publishes_a_parked_run_nobody_woke(limited: Harness, recorder: Recorder):
    _start(limited, recorder, "run-1", "run-2")
    recorder.on["compute"] = _in_run("run-1", lambda: _raise(SimulatedCrash()))
    with pytest.raises(SimulatedCrash):
        limited.deliver("run-1")
    assert limited.deliver("run-2") == "WAITING_FOR_SLOT"

    limited.clock.advance(121)
    assert limited.sweep().redriven == 2
    assert limited.deliver("run-2") == "COMPLETED"


def test_the_limit_costs_two_writes_per_run_when_it_is_not_hit(recorder: Recorder):
    writes = {}
    for limit in (None, 5):
        engine = Harness(replace(SETTINGS, tenant_max_active_runs=limit))
        engine.start(linear_workflow(recorder))
        before = engine.store.writes
        assert engine.deliver() == "COMPLETED"
        writes[limit] = engine.store.writes - before

    assert writes[5] - writes[None] == 2


def test_a_tenant_nobody_waits_behind_is_never_searched_for_a_waiting_run(recorder: Recorder):
    engine = Harness(replace(SETTINGS, tenant_max_active_runs=5))
    real_next_waiting = engine.store.next_waiting
    searches: list[str] = []

    def counted(tenant_id: str) -> Any:
        searches.append(tenant_id)
        return real_next_waiting(tenant_id)

    engine.store.next_waiting = counted  # type: ignore[method-assign]
    workflow = linear_workflow(recorder)
    for run_id in ("run-1", "run-2", "run-3"):
        engine.start(workflow, run_id)
        assert engine.deliver(run_id) == "COMPLETED"

    assert searches == []
    assert engine.store.line("org-a") is None


def test_the_tenants_line_marker_is_closed_once_its_line_is_found_empty(
    limited: Harness, recorder: Recorder
):
    _start(limited, recorder, "run-1", "run-2")
    recorder.on["compute"] = _in_run(
        "run-1", lambda: assert_waits(limited.deliver("run-2"), limited)
    )
    assert limited.deliver("run-1") == "COMPLETED"
    assert limited.publisher.published[-1] == "run-2"  # woken through the marker
    assert limited.store.line("org-a") is not None  # nobody has looked at the line since

    recorder.on.clear()
    assert limited.deliver("run-2") == "COMPLETED"

    assert limited.store.line("org-a") is None


def assert_waits(outcome: str, engine: Harness) -> None:
    assert outcome == "WAITING_FOR_SLOT"
    assert engine.store.line("org-a") is not None  # written by the park's own commit


def test_a_completing_run_gives_its_slot_back_in_its_completing_commit(
    limited: Harness, recorder: Recorder
):
    _start(limited, recorder, "run-1")
    real_release = limited.store.release_slot
    releases: list[int] = []

    def counted(tenant_id: str, index: int, version: object) -> bool:
        releases.append(index)
        return real_release(tenant_id, index, version)

    limited.store.release_slot = counted  # type: ignore[method-assign]
    assert limited.deliver("run-1") == "COMPLETED"

    assert releases == []  # no commit of its own
    assert limited.store.slots("org-a") == []


def test_a_slot_taken_over_before_the_completing_commit_stays_with_its_new_holder(
    limited: Harness, recorder: Recorder
):
    _start(limited, recorder, "run-1", "run-2")

    def taken_over() -> None:
        # As if run-1's lease had lapsed: run-2 takes its slot (conditionally).
        (slot,) = limited.store.slots("org-a")
        loaded = limited.store.load("run-2")
        assert loaded is not None
        path = limited.store.slot_path("org-a", slot.index)
        takeover = Write(path=path, data={"runId": "run-2"}, mode="update", if_version=slot.version)
        limited.store.update(
            "run-2", loaded.version, RunPatch(fields={"slot": slot.index}), [takeover]
        )

    recorder.on["save"] = _in_run("run-1", taken_over)
    assert limited.deliver("run-1") == "COMPLETED"

    assert recorder.calls["save"] == 1
    assert [slot.run_id for slot in limited.store.slots("org-a")] == ["run-2"]


def test_a_first_claim_takes_a_free_slot_without_looking_at_the_tenants_slots(
    limited: Harness, recorder: Recorder
):
    _start(limited, recorder, "run-1")
    real_slots = limited.store.slots
    looks: list[str] = []

    def counted(tenant_id: str) -> list[Slot]:
        looks.append(tenant_id)
        return real_slots(tenant_id)

    limited.store.slots = counted  # type: ignore[method-assign]
    assert limited.deliver("run-1") == "COMPLETED"

    assert looks == []


def _raise(exc: BaseException) -> None:
    raise exc
