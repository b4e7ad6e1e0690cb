"""Waits on the in-memory store: a run parks WAITING, holds nothing, and its wait ends once.

Each wait ends by exactly one of: its signal (the first to commit), its
timeout (found by the sweep), a cancel. The emulator tests of the same
behaviour through the api and the worker are in tests/test_programme_review.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.engine import RunStatus, StepStatus, run_view
from shared.errors import Conflict, InvalidInput, NotFound
from tests.helpers.engine_support import (
    APPROVAL_TIMEOUT,
    Harness,
    Recorder,
    approval_workflow,
    sleep_workflow,
)


def _parked(engine: Harness, recorder: Recorder, **kwargs: str) -> None:
    engine.start(approval_workflow(recorder, **kwargs))  # type: ignore[arg-type]
    assert engine.deliver() == "WAITING"


def test_a_wait_parks_the_run_with_no_lease_and_its_watchdog_at_the_timeout(
    engine: Harness, recorder: Recorder
):
    _parked(engine, recorder)

    run = engine.run()
    assert run.status is RunStatus.WAITING
    assert run.lease_owner is None
    assert run.lease_expires_at is None
    assert run.wait is not None
    assert run.wait.signal == "approve"
    assert run.watchdog_at == run.wait.timeout_at == run.wait.since + APPROVAL_TIMEOUT
    assert run.steps["approval"].status is StepStatus.WAITING
    assert engine.subject()["state"] == "AWAITING"
    assert recorder.calls["save"] == 0


def test_a_waiting_run_costs_no_write_until_its_timeout(engine: Harness, recorder: Recorder):
    _parked(engine, recorder)
    writes = engine.store.writes

    # A redelivery (the worker killed after parking, a duplicate) and every
    # sweep tick before the timeout: acknowledged, nothing written.
    assert engine.deliver() == "WAITING"
    for _ in range(3):
        engine.clock.advance(APPROVAL_TIMEOUT.total_seconds() / 4)
        engine.sweep()
    assert engine.deliver() == "WAITING"

    assert engine.store.writes == writes
    assert engine.run().status is RunStatus.WAITING


def test_a_signal_continues_the_run_at_once_with_its_payload(engine: Harness, recorder: Recorder):
    _parked(engine, recorder)
    published = len(engine.publisher.published)

    run = engine.signal("approve", {"ok": True, "note": "looks right"})

    assert run.status is RunStatus.QUEUED
    assert engine.publisher.published[published:] == ["run-1"]
    assert engine.run().steps["approval"].output == '{"ok":true,"note":"looks right"}'
    assert engine.subject()["state"] == "IN_PROGRESS"
    assert engine.deliver() == "COMPLETED"
    assert engine.subject()["note"] == "looks right"
    assert recorder.calls["compute"] == 1


def test_a_second_signal_is_a_conflict_and_changes_nothing(engine: Harness, recorder: Recorder):
    _parked(engine, recorder)
    engine.signal("approve", {"ok": True, "note": "first"})
    before = engine.run()

    with pytest.raises(Conflict):
        engine.signal("approve", {"ok": True, "note": "second"})

    assert engine.run() == before


def test_of_two_racing_signals_exactly_one_commits(engine: Harness, recorder: Recorder):
    _parked(engine, recorder)
    # Both approvers loaded the run while it waited; the second commits on a stale version.
    seen_by_a = engine.store.load("run-1")
    seen_by_b = engine.store.load("run-1")
    engine.engine.signal(seen_by_a, "approve", {"ok": True, "note": "a"})

    with pytest.raises(Conflict):
        engine.engine.signal(seen_by_b, "approve", {"ok": True, "note": "b"})

    assert engine.run().steps["approval"].output == '{"ok":true,"note":"a"}'
    assert engine.publisher.published.count("run-1") == 2  # the start, and one continue


def test_a_payload_that_does_not_fit_is_refused_and_changes_nothing(
    engine: Harness, recorder: Recorder
):
    _parked(engine, recorder)
    before = engine.run()

    with pytest.raises(InvalidInput) as refused:
        engine.signal("approve", {"ok": True, "note": "x" * 51})

    assert "note" in refused.value.message
    assert engine.run() == before


def test_a_signal_for_another_tenants_run_is_not_found(engine: Harness, recorder: Recorder):
    _parked(engine, recorder)
    before = engine.run()

    with pytest.raises(NotFound):
        engine.signal("approve", {"ok": True}, tenant="org-b")

    assert engine.run() == before


def test_a_signal_the_workflow_does_not_wait_for_is_not_found(engine: Harness, recorder: Recorder):
    _parked(engine, recorder)

    with pytest.raises(NotFound):
        engine.signal("publish", {"ok": True})


def test_a_signal_before_the_run_reaches_its_wait_is_a_conflict(
    engine: Harness, recorder: Recorder
):
    engine.start(approval_workflow(recorder))

    with pytest.raises(Conflict):
        engine.signal("approve", {"ok": True})

    assert engine.run().status is RunStatus.QUEUED


def test_a_cancelling_payload_ends_the_run_cancelled_without_running_on(
    engine: Harness, recorder: Recorder
):
    _parked(engine, recorder)
    published = len(engine.publisher.published)

    run = engine.signal("approve", {"ok": False})

    assert run.status is RunStatus.CANCELLED
    assert engine.run().error == "not approved"
    assert engine.subject()["state"] == "CANCELLED"
    assert len(engine.publisher.published) == published
    assert engine.deliver() == "ALREADY_FINISHED"
    assert recorder.calls["save"] == 0


def test_the_sweep_fails_a_wait_past_its_timeout_with_its_reason(
    engine: Harness, recorder: Recorder
):
    _parked(engine, recorder)

    report = engine.pass_wait()

    run = engine.run()
    assert report.failed == 1
    assert run.status is RunStatus.FAILED
    assert run.error == "nobody approved within 2 hours"
    assert engine.subject()["problem"] == "nobody approved within 2 hours"
    with pytest.raises(Conflict):
        engine.signal("approve", {"ok": True})


def test_a_wait_that_continues_on_timeout_runs_on_with_no_value(
    engine: Harness, recorder: Recorder
):
    _parked(engine, recorder, on_timeout="continue")

    report = engine.pass_wait()

    assert report.woken == 1
    assert engine.publisher.published[-1] == "run-1"
    assert engine.deliver() == "COMPLETED"
    assert engine.subject()["note"] == "no answer"


def test_waiting_longer_than_the_deadline_does_not_fail_the_run(
    engine: Harness, recorder: Recorder
):
    _parked(engine, recorder)
    engine.clock.advance(APPROVAL_TIMEOUT.total_seconds() - 60)  # well past the 15-minute deadline
    assert engine.sweep().failed == 0

    engine.signal("approve", {"ok": True})

    assert engine.deliver() == "COMPLETED"


def test_cancelling_a_waiting_run_ends_it_and_its_wait(engine: Harness, recorder: Recorder):
    _parked(engine, recorder)

    engine.cancel("run-1")

    assert engine.run().status is RunStatus.CANCELLED
    assert engine.run().wait is None
    with pytest.raises(Conflict):
        engine.signal("approve", {"ok": True})
    assert engine.sweep().failed == 0


def test_a_run_resumed_after_its_wait_timed_out_waits_again(engine: Harness, recorder: Recorder):
    _parked(engine, recorder)
    engine.pass_wait()

    engine.resume("run-1")

    assert engine.deliver() == "WAITING"
    assert recorder.calls["compute"] == 1
    engine.signal("approve", {"ok": True, "note": "late but fine"})
    assert engine.deliver() == "COMPLETED"


def test_the_timeline_shows_the_wait(engine: Harness, recorder: Recorder):
    workflow = approval_workflow(recorder)
    engine.start(workflow)
    engine.deliver()

    view = run_view(engine.run(), workflow)

    assert view.status == "WAITING"
    assert view.wait is not None
    assert view.wait.signal == "approve"
    assert [(s.id, s.status) for s in view.steps] == [
        ("compute", "COMPLETED"),
        ("approval", "WAITING"),
        ("save", "PENDING"),
    ]
    assert view.progress.current_step == "approval"


def test_a_short_sleep_passes_in_the_same_delivery(engine: Harness, recorder: Recorder):
    engine.start(sleep_workflow(recorder, seconds=5))
    started = engine.clock()

    assert engine.deliver() == "COMPLETED"

    assert engine.subject()["at"] == (started + timedelta(seconds=5)).isoformat()


def test_a_long_sleep_parks_and_the_sweep_wakes_it_at_its_time(engine: Harness, recorder: Recorder):
    engine.start(sleep_workflow(recorder, seconds=40))
    assert engine.deliver() == "WAITING"
    engine.clock.advance(39)
    assert engine.sweep().woken == 0

    engine.clock.advance(2)
    assert engine.sweep().woken == 1

    assert engine.deliver() == "COMPLETED"
    assert recorder.calls["compute"] == 1


def test_the_kit_runs_a_sleeping_workflow_to_its_end(engine: Harness, recorder: Recorder):
    engine.start(sleep_workflow(recorder, seconds=3600))

    finished = engine.run_to_end()

    assert finished.status is RunStatus.COMPLETED
    assert finished.steps["nap"].status is StepStatus.COMPLETED
