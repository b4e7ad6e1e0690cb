"""The results outbox learns a run's result from the commits it made, not from a read.

A run this process loaded and carried to its end is known at the version of
its terminal commit (each commit was conditional on the one before), so the
outbox publishes its result without reading the run again; a run written
elsewhere meanwhile is read first, as before. No Java: the in-memory store.
"""

from __future__ import annotations

from typing import Any

from shared.engine import Engine, OutboxStore, RunPatch, RunStatus, Usage
from shared.engine.testing import FakeClock, InMemoryRunStore, ListPublisher
from tests.helpers.engine_support import SETTINGS, Job, Recorder, linear_workflow


class CountingStore(InMemoryRunStore):
    """The in-memory store, counting reads of runs."""

    def __init__(self) -> None:
        super().__init__()
        self.loads = 0

    def load(self, run_id: str) -> Any:
        self.loads += 1
        return super().load(run_id)


class Results:
    def __init__(self) -> None:
        self.published: list[Any] = []

    def publish_result(self, result: Any) -> None:
        self.published.append(result)


def _outbox() -> tuple[CountingStore, Results, OutboxStore]:
    inner, results = CountingStore(), Results()
    return inner, results, OutboxStore(inner, results)


def test_a_run_carried_to_its_end_here_publishes_its_result_without_a_read():
    inner, results, store = _outbox()
    workflow = linear_workflow(Recorder())
    engine = Engine(
        store,
        ListPublisher(),
        settings=SETTINGS,
        clock=FakeClock(),
        workflows={workflow.id: workflow}.get,
    )
    engine.start(
        workflow, Job(), run_id="run-1", tenant_id="org-a", user_id="u", subject="subjects/run-1"
    )
    inner.loads = 0

    assert engine.deliver("run-1").value == "COMPLETED"

    assert inner.loads == 1  # the delivery's own load; none after the terminal commit
    final = inner.load("run-1")
    assert final is not None
    assert final.record.status is RunStatus.COMPLETED
    assert final.record.result_pending is False
    [result] = results.published
    assert (result.run_id, result.status) == ("run-1", "COMPLETED")
    assert result.finished_at == final.record.finished_at
    assert result.usage == final.record.usage
    assert (result.tenant_id, result.subject) == ("org-a", "subjects/run-1")


def test_a_run_written_elsewhere_since_it_was_loaded_is_read_before_its_result():
    inner, results, store = _outbox()
    workflow = linear_workflow(Recorder())
    engine = Engine(inner, ListPublisher(), settings=SETTINGS, clock=FakeClock())
    engine.start(
        workflow, Job(), run_id="run-1", tenant_id="org-a", user_id="u", subject="subjects/run-1"
    )
    seen = store.load("run-1")
    assert seen is not None
    # Another process charges usage to the run after this one loaded it.
    elsewhere = inner.update(
        "run-1", seen.version, RunPatch(fields={"usage": Usage(total_tokens=7, cost_usd=0.5)})
    )
    inner.loads = 0

    ended = {"status": RunStatus.CANCELLED, "error": "cancelled", "finished_at": FakeClock()()}
    store.update("run-1", elsewhere, RunPatch(fields=ended))

    assert inner.loads == 1
    [result] = results.published
    assert result.status == "CANCELLED"
    assert result.usage.total_tokens == 7
