"""The run store's contract, run against the in-memory store and the Firestore one alike.

The engine's fast tests trust the in-memory store to behave like Firestore;
these cases are what that trust rests on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.firestore_store import FirestoreRunStore
from shared.engine import (
    RunPatch,
    RunRecord,
    RunStatus,
    RunStore,
    Slot,
    SlotStore,
    StepRecord,
    StepStatus,
    Write,
)
from shared.engine.testing import InMemoryRunStore
from shared.errors import RunExists, StaleRun

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", pytest.param("firestore", marks=pytest.mark.emulators)])
def store(request: pytest.FixtureRequest) -> Iterator[RunStore]:
    if request.param == "memory":
        yield InMemoryRunStore()
        return
    yield FirestoreRunStore(request.getfixturevalue("emptied_firestore"))


def _run(run_id: str = "run-1", watchdog: timedelta = timedelta(minutes=2)) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        workflow="test.linear",
        tenant_id="org-a",
        user_id="user-1",
        subject=f"subjects/{run_id}",
        input={"name": "job"},
        status=RunStatus.QUEUED,
        created_at=NOW,
        deadline_at=NOW + timedelta(minutes=15),
        watchdog_at=NOW + watchdog,
    )


def _subject(run_id: str = "run-1") -> Write:
    return Write(path=f"subjects/{run_id}", data={"status": "IN_PROGRESS"}, mode="create")


def test_a_created_run_loads_as_it_was_written_with_its_documents(store: RunStore):
    store.create(_run(), [_subject()])

    loaded = store.load("run-1")

    assert loaded is not None
    assert loaded.record == _run()
    assert store.read("subjects/run-1") == {"status": "IN_PROGRESS"}
    assert store.load("missing") is None
    assert store.read("subjects/missing") is None


def test_creating_an_existing_run_or_document_raises_and_writes_nothing(store: RunStore):
    store.create(_run(), [_subject()])

    with pytest.raises(RunExists):
        store.create(_run(), [Write(path="other/doc", data={"a": 1})])
    with pytest.raises(RunExists):
        store.create(_run("run-2"), [_subject("run-1")])

    assert store.read("other/doc") is None
    assert store.load("run-2") is None


def test_an_update_at_the_current_version_lands_whole_and_returns_a_new_version(
    store: RunStore,
):
    store.create(_run(), [_subject()])
    loaded = store.load("run-1")
    assert loaded is not None
    record = StepRecord(status=StepStatus.COMPLETED, attempts=1, output='{"n": 1}')

    version = store.update(
        "run-1",
        loaded.version,
        RunPatch(fields={"status": RunStatus.RUNNING, "lease_owner": "me"}, steps={"a": record}),
        [Write(path="results/a", data={"n": 1})],
    )

    reloaded = store.load("run-1")
    assert reloaded is not None
    assert reloaded.version == version != loaded.version
    assert reloaded.record.status is RunStatus.RUNNING
    assert reloaded.record.lease_owner == "me"
    assert reloaded.record.steps == {"a": record}
    assert store.read("results/a") == {"n": 1}


def test_an_update_at_a_stale_version_raises_and_changes_nothing(store: RunStore):
    store.create(_run(), [_subject()])
    loaded = store.load("run-1")
    assert loaded is not None
    store.update("run-1", loaded.version, RunPatch(fields={"lease_owner": "first"}))

    with pytest.raises(StaleRun):
        store.update(
            "run-1",
            loaded.version,
            RunPatch(fields={"lease_owner": "second"}),
            [Write(path="results/late", data={"n": 1})],
        )

    reloaded = store.load("run-1")
    assert reloaded is not None
    assert reloaded.record.lease_owner == "first"
    assert store.read("results/late") is None


def test_an_update_of_a_missing_run_is_stale(store: RunStore):
    store.create(_run(), [])
    loaded = store.load("run-1")
    assert loaded is not None

    with pytest.raises(StaleRun):
        store.update("run-2", loaded.version, RunPatch(fields={"lease_owner": "me"}))


def test_a_step_record_is_replaced_whole_and_merge_writes_keep_other_fields(store: RunStore):
    store.create(_run(), [_subject()])
    loaded = store.load("run-1")
    assert loaded is not None
    first = StepRecord(status=StepStatus.RETRYING, attempts=1, error="boom", repairs=["x"])
    second = StepRecord(status=StepStatus.RUNNING, attempts=2)
    version = store.update("run-1", loaded.version, RunPatch(steps={"a": first}))

    store.update(
        "run-1",
        version,
        RunPatch(steps={"a": second}),
        [
            Write(path="subjects/run-1", data={"error": None, "nested": {"b": 2}}, mode="merge"),
        ],
    )

    reloaded = store.load("run-1")
    assert reloaded is not None
    assert reloaded.record.steps["a"] == second
    assert store.read("subjects/run-1") == {
        "status": "IN_PROGRESS",
        "error": None,
        "nested": {"b": 2},
    }


def test_increment_writes_add_to_counters_and_create_the_document(store: RunStore):
    store.create(_run(), [])
    loaded = store.load("run-1")
    assert loaded is not None
    counter = Write(
        path="usage/d", data={"tenantId": "org-a", "runs": 1, "costUsd": 0.25}, mode="increment"
    )

    version = store.update("run-1", loaded.version, RunPatch(fields={"deliveries": 1}), [counter])
    store.update("run-1", version, RunPatch(fields={"deliveries": 2}), [counter])

    assert store.read("usage/d") == {"tenantId": "org-a", "runs": 2, "costUsd": 0.5}


def test_a_large_output_round_trips(store: RunStore):
    store.create(_run(), [])
    loaded = store.load("run-1")
    assert loaded is not None
    big = json.dumps({"text": "x" * 40_000})
    record = StepRecord(status=StepStatus.COMPLETED, attempts=1, output=big)

    store.update("run-1", loaded.version, RunPatch(steps={"a": record}))

    reloaded = store.load("run-1")
    assert reloaded is not None
    assert reloaded.record.steps["a"].output == big


def test_a_run_created_with_step_records_loads_them_large_outputs_included(store: RunStore):
    # A rerun starts with its source's checkpoints.
    big = json.dumps({"text": "x" * 40_000})
    steps = {
        "a": StepRecord(status=StepStatus.COMPLETED, output='{"n": 1}', reused_from="run-0"),
        "b": StepRecord(status=StepStatus.COMPLETED, output=big, reused_from="run-0"),
    }
    store.create(_run().model_copy(update={"steps": steps, "step_order": ["a", "b"]}), [])

    loaded = store.load("run-1")

    assert loaded is not None
    assert loaded.record.steps["a"] == steps["a"]
    assert loaded.record.steps["b"].output == big
    assert loaded.record.step_order == ["a", "b"]


def test_due_lists_unfinished_runs_whose_watchdog_passed_oldest_first(store: RunStore):
    store.create(_run("late", timedelta(minutes=1)), [])
    store.create(_run("later", timedelta(minutes=2)), [])
    store.create(_run("not-yet", timedelta(minutes=10)), [])
    store.create(_run("done", timedelta(minutes=1)), [])
    done = store.load("done")
    assert done is not None
    store.update("done", done.version, RunPatch(fields={"status": RunStatus.COMPLETED}))

    due = store.due(NOW + timedelta(minutes=5), limit=10)

    assert [loaded.record.run_id for loaded in due] == ["late", "later"]
    assert [r.record.run_id for r in store.due(NOW + timedelta(minutes=5), limit=1)] == ["late"]


# -- tenant slots (engine.slots): the writes and queries the limit rests on ---------------


def _slots(store: RunStore) -> SlotStore:
    assert isinstance(store, InMemoryRunStore | FirestoreRunStore)
    return store


def _claim_with_slot(store: RunStore, run_id: str, slot: Write) -> object:
    loaded = store.load(run_id)
    assert loaded is not None
    return store.update(run_id, loaded.version, RunPatch(fields={"slot": 0}), [slot])


def test_a_slot_taken_with_a_claim_has_the_claims_version_and_cannot_be_taken_twice(
    store: RunStore,
):
    slots = _slots(store)
    store.create(_run("run-1"), [])
    store.create(_run("run-2"), [])
    path = slots.slot_path("org-a", 0)

    version = _claim_with_slot(
        store, "run-1", Write(path=path, data={"runId": "run-1"}, mode="create")
    )
    with pytest.raises(RunExists):
        _claim_with_slot(store, "run-2", Write(path=path, data={"runId": "run-2"}, mode="create"))

    assert slots.slots("org-a") == [Slot(0, "run-1", version)]
    assert slots.slots("org-b") == []
    loaded = store.load("run-2")
    assert loaded is not None
    assert loaded.record.slot is None


def test_a_slot_is_taken_over_and_released_only_at_the_version_last_seen(store: RunStore):
    slots = _slots(store)
    store.create(_run("run-1"), [])
    store.create(_run("run-2"), [])
    store.create(_run("run-3"), [])
    path = slots.slot_path("org-a", 0)
    first = _claim_with_slot(
        store, "run-1", Write(path=path, data={"runId": "run-1"}, mode="create")
    )

    takeover = Write(path=path, data={"runId": "run-2"}, mode="update", if_version=first)
    second = _claim_with_slot(store, "run-2", takeover)
    stale = Write(path=path, data={"runId": "run-3"}, mode="update", if_version=first)
    with pytest.raises(StaleRun):
        _claim_with_slot(store, "run-3", stale)

    assert not slots.release_slot("org-a", 0, first)  # run-1 no longer holds it
    assert slots.slots("org-a") == [Slot(0, "run-2", second)]
    assert slots.release_slot("org-a", 0, second)
    assert slots.slots("org-a") == []


def test_the_line_marker_is_closed_only_at_the_version_last_seen(store: RunStore):
    slots = _slots(store)
    store.create(_run("run-1"), [])
    store.create(_run("run-2"), [])
    assert slots.line("org-a") is None
    line = slots.line_path("org-a")
    first = _claim_with_slot(store, "run-1", Write(path=line, data={"runId": "run-1"}))
    assert slots.line("org-a") == first
    second = _claim_with_slot(store, "run-2", Write(path=line, data={"runId": "run-2"}))

    assert not slots.close_line("org-a", first)
    assert slots.line("org-a") == second
    assert slots.line("org-b") is None
    assert slots.close_line("org-a", second)
    assert slots.line("org-a") is None


def test_the_next_waiting_run_is_the_tenants_first_in_line(store: RunStore):
    slots = _slots(store)
    for run_id, queued in [("run-1", 3), ("run-2", 1), ("run-3", None), ("run-4", 2)]:
        store.create(_run(run_id), [])
        if queued is not None:
            loaded = store.load(run_id)
            assert loaded is not None
            in_line = {"slot_queue": NOW + timedelta(seconds=queued)}
            store.update(run_id, loaded.version, RunPatch(fields=in_line))

    waiting = slots.next_waiting("org-a")

    assert waiting is not None
    assert waiting.record.run_id == "run-2"
    assert slots.next_waiting("org-b") is None
