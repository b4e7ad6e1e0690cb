"""Live output: a run's streamed items, persisted as progress, withdrawn or confirmed.

While a model step streams its answer, each completed item (a seed, a day's
session, a concept's section) is appended to the run's **live log**, one
document beside the run (`runs/{runId}/live/events`):

    {"count": n, "log": {"1": entry, ..., "n": entry}}

Each entry is an `item` (step, attempt, index, item), a `reset` (step,
attempt, reason: what that step showed so far is withdrawn) or a `final`
(step, attempt, items: the committed list). Entries are numbered 1..n in the
order they were appended; the number is the event id readers resume from
(`Last-Event-ID`), so any api instance can serve "what came after" from the
stored log alone.

The rules (docs/architecture.md, "Live output"):

- **The committed output is the only truth.** A `final` is written in the
  step's own commit (the same batch as its checkpoint and domain writes), so
  it exists if and only if the step committed, and it carries the validated
  answer's items after repairs.
- **Cheap.** Items are buffered and written at most once per
  `EngineSettings.stream_flush` per run (all of the run's steps share one
  writer), never once per token; a `final` rides on a commit that happens
  anyway.
- **Withdrawn on failure.** A failed attempt appends a `reset` at once; an
  attempt that never reported (its worker died) is reset by the next
  delivery before it shows anything; a model call asked again within an
  attempt (schema retry, failover) resets first too. So the next attempt
  streams afresh.
- **One writer.** Only the delivery holding the run's lease appends (its
  fence stopping stops the writer), and the log is read once per delivery to
  continue its numbering. Readers still project defensively (`visible`): an
  item of an attempt older than one already seen, or anything after a step's
  `final`, is never shown.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from shared.engine.records import Write

__all__ = [
    "LiveEntry",
    "LiveItems",
    "LiveLog",
    "LiveStep",
    "LiveStore",
    "current_items",
    "live_entries",
    "live_path",
    "visible",
]

log = logging.getLogger(__name__)

# What a run's live log may hold (bytes of JSON, about): a Firestore document
# holds at most 1 MiB. Items past ITEMS_BUDGET are not shown live (the
# committed result still has them); a `final` that would not fit is written
# without its items (readers then GET the subject).
ITEMS_BUDGET = 300_000
FINAL_BUDGET = 600_000


def live_path(run_id: str) -> str:
    """The run's live log document (beside its `outputs`)."""
    return f"runs/{run_id}/live/events"


class LiveEntry(BaseModel):
    """One entry of the live log, as stored (and as the events carry it)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["item", "reset", "final"]
    step: str
    attempt: int
    index: int | None = None
    item: Any = None
    items: list[Any] | None = None
    reason: str | None = None

    def stored(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class LiveStore(Protocol):
    """What the live log needs of the database: a read, and an unconditional merge."""

    def read(self, path: str) -> dict[str, Any] | None: ...

    def merge_document(self, path: str, data: dict[str, Any]) -> None:
        """Firestore's `set(merge=True)` of one document, outside any run commit."""
        ...


def live_entries(doc: dict[str, Any] | None) -> list[tuple[int, LiveEntry]]:
    """The stored log, numbered and in order; entries past a gap are left out (not yet there)."""
    raw = (doc or {}).get("log") or {}
    numbered: dict[int, LiveEntry] = {}
    for key, value in raw.items():
        try:
            numbered[int(key)] = LiveEntry.model_validate(value)
        except (ValueError, TypeError):
            continue
    found: list[tuple[int, LiveEntry]] = []
    seq = 1
    while seq in numbered:
        found.append((seq, numbered[seq]))
        seq += 1
    return found


@dataclass
class _StepView:
    newest: int = 0
    final: bool = False
    items: list[tuple[int, int, Any]] = field(default_factory=list)  # (attempt, index, item)


def _project(
    entries: list[tuple[int, LiveEntry]],
) -> Iterator[tuple[int, LiveEntry, bool, dict[str, _StepView]]]:
    """Each entry with whether a reader is shown it, and every step's state after it."""
    steps: dict[str, _StepView] = {}
    for seq, entry in entries:
        view = steps.setdefault(entry.step, _StepView())
        shown = not view.final and entry.attempt >= view.newest
        if shown:
            view.newest = entry.attempt
            if entry.kind == "item":
                view.items.append((entry.attempt, entry.index or 0, entry.item))
            elif entry.kind == "reset":
                view.items.clear()
            else:
                view.final = True
                view.items = [(entry.attempt, i, item) for i, item in enumerate(entry.items or [])]
        yield seq, entry, shown, steps


def visible(entries: list[tuple[int, LiveEntry]]) -> list[tuple[int, LiveEntry]]:
    """The entries a reader is shown, in order (stale attempts and post-final ones dropped)."""
    return [(seq, entry) for seq, entry, shown, _ in _project(entries) if shown]


@dataclass(frozen=True)
class LiveItems:
    """A step's items as they stand: committed (its `final`) or provisional."""

    step: str
    attempt: int
    index: int
    item: Any
    provisional: bool


def current_items(entries: list[tuple[int, LiveEntry]]) -> list[LiveItems]:
    """Every step's items as they stand after the whole log, steps in first-seen order."""
    steps: dict[str, _StepView] = {}
    for _, _, _, after in _project(entries):
        steps = after
    return [
        LiveItems(step, attempt, index, item, provisional=not view.final)
        for step, view in steps.items()
        for attempt, index, item in view.items
    ]


@dataclass(frozen=True)
class LiveStep:
    """One step attempt's handle on the run's live log (what its meter reports into)."""

    log: LiveLog
    step: str
    attempt: int


class LiveLog:
    """The writer of one run's live log for one delivery. Thread-safe.

    Entries are numbered when appended and written in order, under one lock
    (a flush and a step commit never interleave), by a flusher thread at most
    once per `flush_every` seconds, or with the step's commit. The first
    interval counts from the delivery's start: a step that streams and
    commits within it (a short answer) shows its items with its commit and
    costs no write of its own, and a slower one's first items wait at most
    one interval.
    """

    def __init__(
        self,
        store: LiveStore,
        run_id: str,
        flush_every: float,
        stopped: Callable[[], bool] = lambda: False,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.path = live_path(run_id)
        self.flush_every = flush_every
        self._stopped = stopped
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._count: int | None = None  # None until the log is read
        self._pending: list[tuple[int, LiveEntry]] = []
        # Per step: the attempt whose items readers see now, and how many.
        self._open: dict[str, tuple[int, int]] = {}
        self._last_flush = time.monotonic()
        self._closed = False
        self._thread: threading.Thread | None = None
        self.flushes = 0
        self._bytes = 0

    def starts_empty(self) -> None:
        """This delivery made the run's first claim: no log exists yet, so none is read.

        Only deliveries of the run write its log, each after its claim, and
        the first claim is conditional on the run as created (`deliveries`
        0), so nothing can have been written before it.
        """
        with self._lock:
            if self._count is None:
                self._count = 0

    # -- what a step's meter reports -------------------------------------

    def started(self, step: str, attempt: int) -> None:
        """A streamed answer begins: withdraw what this step shows (an earlier try's items)."""
        with self._lock:
            self._load()
            shown = self._open.get(step)
            if shown is not None and shown[1] > 0:
                reason = (
                    "the model was asked again within the attempt"
                    if shown[0] == attempt
                    else f"attempt {shown[0]} stopped before it finished"
                )
                self._append(LiveEntry(kind="reset", step=step, attempt=shown[0], reason=reason))
            self._open[step] = (attempt, 0)

    def add(self, step: str, attempt: int, item: Any) -> None:
        with self._lock:
            self._load()
            _, count = self._open.get(step, (attempt, 0))
            entry = LiveEntry(kind="item", step=step, attempt=attempt, index=count, item=item)
            size = len(entry.model_dump_json())
            if self._bytes + size > ITEMS_BUDGET:
                return  # shown when the step commits instead
            self._bytes += size
            self._open[step] = (attempt, count + 1)
            self._append(entry)
            self._ensure_flusher()
            self._wake.notify()

    def failed(self, step: str, attempt: int, reason: str) -> None:
        """The attempt failed: withdraw its items now (written at once, not paced)."""
        with self._lock:
            shown = self._open.get(step)
            if shown is None or shown[1] == 0:
                return
            self._append(LiveEntry(kind="reset", step=step, attempt=attempt, reason=reason))
            self._open[step] = (attempt, 0)
            self._flush()

    @contextmanager
    def committing(self, step: str, attempt: int, items: list[Any]) -> Iterator[Write]:
        """The write of the step's `final` (and anything pending), to ride on its commit.

        Held under the log's lock while the commit runs; if the commit raises,
        the `final` is taken back and the pending entries stay pending.
        """
        with self._lock:
            self._load()
            assert self._count is not None
            before_count, before_pending = self._count, list(self._pending)
            final = LiveEntry(kind="final", step=step, attempt=attempt, items=items)
            if len(final.model_dump_json()) > FINAL_BUDGET:
                final = LiveEntry(kind="final", step=step, attempt=attempt, items=[])
            self._append(final)
            write = Write(path=self.path, data=self._payload(), mode="merge")
            try:
                yield write
            except BaseException:
                self._count, self._pending = before_count, before_pending
                raise
            self._pending = []
            self._open.pop(step, None)

    def close(self) -> None:
        """The delivery ends: write what is pending (unless the run is no longer ours)."""
        with self._lock:
            self._closed = True
            self._flush()
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- inside the lock ---------------------------------------------------

    def _load(self) -> None:
        if self._count is not None:
            return
        entries = live_entries(self.store.read(self.path))
        self._count = entries[-1][0] if entries else 0
        self._bytes = sum(len(entry.model_dump_json()) for _, entry in entries)
        for item in current_items(entries):
            if item.provisional:
                attempt, count = self._open.get(item.step, (item.attempt, 0))
                self._open[item.step] = (attempt, count + 1)

    def _append(self, entry: LiveEntry) -> None:
        assert self._count is not None
        self._count += 1
        self._pending.append((self._count, entry))

    def _payload(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "count": self._count,
            "log": {str(seq): entry.stored() for seq, entry in self._pending},
        }

    def _flush(self) -> None:
        if not self._pending or self._stopped():
            return
        try:
            self.store.merge_document(self.path, self._payload())
        except Exception:
            # Kept pending: the next flush (or the step's commit) writes it.
            log.warning("writing the run's live items failed; will try again", exc_info=True)
            return
        self._pending = []
        self._last_flush = time.monotonic()
        self.flushes += 1

    def _ensure_flusher(self) -> None:
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(
                target=self._flusher, name=f"live-{self.run_id[:8]}", daemon=True
            )
            self._thread.start()

    def _flusher(self) -> None:
        with self._lock:
            while not self._closed:
                if not self._pending:
                    self._wake.wait()
                    continue
                due = self._last_flush + self.flush_every - time.monotonic()
                if due > 0:
                    self._wake.wait(due)
                    continue
                self._flush()
                if self._pending:  # the write failed: wait a whole interval
                    self._last_flush = time.monotonic()
