"""The run's live log (`engine.live`) on the in-memory store: paced writes, resets, finals.

A test workflow's step reports items through its meter exactly as a
streaming model does (`ItemSink`), so these need neither a model nor Java.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from shared.engine import (
    EngineSettings,
    LiveEntry,
    StepContext,
    Workflow,
    current_items,
    live_entries,
    live_path,
    visible,
)
from shared.engine.testing import EngineHarness, InMemoryRunStore
from tests.helpers.engine_support import SUBJECT, Job


class Items(BaseModel):
    items: list[int]


class CountingStore(InMemoryRunStore):
    """Counts the live log's own writes (the ones outside a step's commit)."""

    def __init__(self) -> None:
        super().__init__()
        self.live_writes = 0
        self.live_reads = 0

    def merge_document(self, path: str, data: dict[str, Any]) -> None:
        self.live_writes += 1
        super().merge_document(path, data)

    def read(self, path: str) -> dict[str, Any] | None:
        if path.endswith("/live/events"):
            self.live_reads += 1
        return super().read(path)


def streaming_workflow(count: int, fail_first_after: int | None = None) -> Workflow[Job]:
    wf: Workflow[Job] = Workflow(
        id="test.streaming", input_model=Job, description="streams items", subject=SUBJECT
    )

    @wf.step("stream")
    def stream(ctx: StepContext[Job]) -> Items:
        ctx.meter.stream_started()
        for n in range(count):
            if ctx.attempt == 1 and fail_first_after == n:
                raise ConnectionError("the stream dropped")
            ctx.meter.add_item({"n": n, "attempt": ctx.attempt})
        final = [{"n": n, "attempt": ctx.attempt} for n in range(count)]
        ctx.meter.stream_finished(final)
        return Items(items=list(range(count)))

    return wf


def _log(harness: EngineHarness) -> list[tuple[int, LiveEntry]]:
    return live_entries(harness.store.read(live_path("run-1")))


def test_many_items_cost_at_most_one_write_per_flush_interval_and_the_final_rides_the_commit():
    store = CountingStore()
    harness = EngineHarness(EngineSettings(stream_flush=timedelta(seconds=60)), store=store)
    harness.start(streaming_workflow(30), Job())

    harness.run_to_end()

    assert store.live_writes <= 1  # 30 items within one interval: at most one write of them
    kinds = [entry.kind for _, entry in _log(harness)]
    assert kinds == ["item"] * 30 + ["final"]
    assert "runs/run-1/live/events" in store.written["run-1"]  # written by the step's commit


def test_a_step_that_streams_and_commits_within_one_interval_costs_no_write_of_its_own():
    store = CountingStore()
    harness = EngineHarness(EngineSettings(stream_flush=timedelta(seconds=60)), store=store)
    harness.start(streaming_workflow(3), Job())

    harness.run_to_end()

    assert store.live_writes == 0
    kinds = [entry.kind for _, entry in _log(harness)]
    assert kinds == ["item"] * 3 + ["final"]  # the items came with the step's commit


def test_a_runs_first_delivery_does_not_read_its_live_log():
    store = CountingStore()
    harness = EngineHarness(EngineSettings(), store=store)
    harness.start(streaming_workflow(3), Job())

    assert harness.deliver() == "COMPLETED"

    assert store.live_reads == 0
    assert [entry.kind for _, entry in _log(harness)] == ["item"] * 3 + ["final"]


def test_a_failed_attempts_items_are_reset_and_the_retry_streams_afresh():
    harness = EngineHarness(EngineSettings(step_max_attempts=3))
    harness.start(streaming_workflow(3, fail_first_after=2), Job())

    harness.run_to_end()

    shown = [(e.kind, e.attempt, e.index) for _, e in visible(_log(harness))]
    assert shown == [
        ("item", 1, 0),
        ("item", 1, 1),
        ("reset", 1, None),
        ("item", 2, 0),
        ("item", 2, 1),
        ("item", 2, 2),
        ("final", 2, None),
    ]
    items = current_items(_log(harness))
    assert [(i.item, i.provisional) for i in items] == [
        ({"n": n, "attempt": 2}, False) for n in range(3)
    ]


def test_readers_never_see_a_stale_attempts_items_nor_anything_after_a_final():
    log = [
        LiveEntry(kind="item", step="s", attempt=2, index=0, item="new"),
        LiveEntry(kind="item", step="s", attempt=1, index=1, item="stale"),
        LiveEntry(kind="reset", step="s", attempt=1, reason="late"),
        LiveEntry(kind="final", step="s", attempt=2, items=["new"]),
        LiveEntry(kind="item", step="s", attempt=2, index=1, item="after"),
    ]
    entries = list(enumerate(log, start=1))

    assert [seq for seq, _ in visible(entries)] == [1, 4]
    assert [(i.item, i.provisional) for i in current_items(entries)] == [("new", False)]


def test_a_gap_in_the_log_hides_what_follows_until_it_is_filled():
    doc = {
        "log": {
            "1": {"kind": "item", "step": "s", "attempt": 1, "index": 0, "item": 1},
            "3": {"kind": "item", "step": "s", "attempt": 1, "index": 2, "item": 3},
        }
    }

    assert [seq for seq, _ in live_entries(doc)] == [1]
