"""GET /v1/runs/{runId}/events (and the subjects' /events): a run's changes as Server-Sent Events.

The stream is driven by Firestore listeners on the run document and on its
live log (`shared.engine.live`), not by polling: each committed change
arrives once, and an idle run costs nothing. Events (`text/event-stream`):

- `run`: the run as `GET /v1/runs/{runId}` shows it, first as it is now, then
  after every change of its status, error, deliveries or any step;
- `item`: `{runId, step, attempt, index, item}`, a completed item of a
  streaming model step (a seed, a day's session, a concept's section);
- `reset`: `{runId, step, attempt, reason}`, every item the step showed so
  far is withdrawn (its attempt failed, or the model was asked again);
- `final`: `{runId, step, items}`, the step committed: its items are these;
- `end`: `{runId, status}` once the run is terminal, after everything above;
  then the stream closes. A stream that closes without `end` (it reached
  `EVENTS_STREAM_SECONDS`, or a listener stopped) means "reconnect";
- comment lines (`: keep-alive`) after `EVENTS_KEEPALIVE_SECONDS` of silence,
  so that proxies do not cut an idle stream.

Every event carries an `id:` made of stored state only: `<n>-<h>`, where n
is the position in the run's live log up to which the client has been
served and h a short hash of the last run view it was sent. A client that
reconnects with it (`Last-Event-ID`, or `?lastEventId=`) is served the live
entries after n and the run view only if it differs from h, so it gets
exactly what it missed, from any api instance.

Serving cost: a stream holds one server thread for as long as it is open
(functions-framework's gunicorn serves `THREADS` requests at once per
instance, and Cloud Run counts the stream as one of the instance's
concurrent requests), and shares its run's Firestore listeners (the run
document's and its live log's) with the instance's other streams of that
run (`adapters/firestore_watch.py`); the app layer admits streams through a
`StreamGate` (per instance and per tenant caps; 429 beyond); 500 per
instance: docs/architecture.md. A client that goes away is noticed within
`CLIENT_CHECK_SECONDS` (its socket is looked at between events,
`streams.ClientWatch`), and its share of the listeners and its slot are
given back then.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Response

from shared.engine import (
    LiveEntry,
    RunRecord,
    RunWatcher,
    live_entries,
    live_path,
    registry,
    run_view,
    visible,
)
from shared.errors import InvalidInput
from shared.http.context import RequestContext
from shared.http.runs import owned_run
from shared.http.streams import ClientWatch
from shared.models.runs import (
    EVENT_ID_PATTERN,
    EventsQuery,
    LiveFinalEvent,
    LiveItemEvent,
    LiveResetEvent,
    RunEnded,
)

log = logging.getLogger(__name__)

# How long a browser's EventSource waits before reconnecting (milliseconds).
RECONNECT_MS = 2000
KEEPALIVE = ": keep-alive\n\n"
# How often an idle stream looks whether its client is still connected.
CLIENT_CHECK_SECONDS = 1.0
_EVENT_ID = re.compile(EVENT_ID_PATTERN)


class Subscription(Protocol):
    @property
    def active(self) -> bool: ...

    def close(self) -> None: ...


class LiveWatcher(Protocol):
    """The run's live log: read once, or listened to (`FirestoreLiveStore`)."""

    def read(self, path: str) -> dict[str, Any] | None: ...

    def watch(
        self, run_id: str, on_change: Callable[[dict[str, Any] | None], None]
    ) -> Subscription: ...


@dataclass
class Cursor:
    """Where a client is: the live log served up to `seq`, and the last run view's hash."""

    seq: int = 0
    view: str = "0"

    @property
    def id(self) -> str:
        return f"{self.seq}-{self.view}"

    @classmethod
    def parse(cls, text: str | None) -> Cursor:
        if not text:
            return cls()
        if not _EVENT_ID.match(text):
            raise InvalidInput(
                "Last-Event-ID is not an event id of this stream (expected <n>-<hex>)"
            )
        seq, view = text.split("-", 1)
        return cls(int(seq), view)


def _event(name: str, data: str, event_id: str) -> str:
    return f"id: {event_id}\nevent: {name}\ndata: {data}\n\n"


def _view_json(run: RunRecord) -> str:
    view = run_view(run, registry.get(run.workflow))
    return view.model_dump_json(by_alias=True, exclude_none=True)


def _hash(view: str) -> str:
    return hashlib.sha256(view.encode()).hexdigest()[:12]


def _live_data(run_id: str, entry: LiveEntry) -> str:
    if entry.kind == "item":
        return LiveItemEvent(
            run_id=run_id,
            step=entry.step,
            attempt=entry.attempt,
            index=entry.index or 0,
            item=entry.item,
        ).model_dump_json(by_alias=True)
    if entry.kind == "reset":
        return LiveResetEvent(
            run_id=run_id, step=entry.step, attempt=entry.attempt, reason=entry.reason or ""
        ).model_dump_json(by_alias=True)
    return LiveFinalEvent(
        run_id=run_id, step=entry.step, items=list(entry.items or [])
    ).model_dump_json(by_alias=True)


class _Projection:
    """What this stream has sent: turns stored state into the events the client lacks."""

    def __init__(self, run_id: str, cursor: Cursor) -> None:
        self.run_id = run_id
        self.cursor = cursor

    def run(self, run: RunRecord) -> Iterator[str]:
        view = _view_json(run)
        digest = _hash(view)
        if digest != self.cursor.view:  # a lease renewal changes the document, not the view
            self.cursor.view = digest
            yield _event("run", view, self.cursor.id)

    def live(self, doc: dict[str, Any] | None) -> Iterator[str]:
        entries = live_entries(doc)
        if not entries or entries[-1][0] <= self.cursor.seq:
            return
        last = entries[-1][0]
        for seq, entry in visible(entries):
            if seq > self.cursor.seq:
                self.cursor.seq = seq
                yield _event(entry.kind, _live_data(self.run_id, entry), self.cursor.id)
        # Entries no reader is shown (a stale attempt's) are passed over, not resent.
        self.cursor.seq = last

    def end(self, run: RunRecord) -> str:
        data = RunEnded(run_id=run.run_id, status=run.status).model_dump_json(by_alias=True)
        return _event("end", data, self.cursor.id)


def run_events(
    first: RunRecord,
    watcher: RunWatcher,
    keepalive_seconds: float,
    stream_seconds: float,
    clock: Callable[[], float] = time.monotonic,
    client_gone: Callable[[], bool] = lambda: False,
    live: LiveWatcher | None = None,
    after: Cursor | None = None,
) -> Iterator[str]:
    """The stream's text, chunk by chunk; closing the iterator closes the listeners.

    While no change arrives, the client's connection is looked at every
    `CLIENT_CHECK_SECONDS` (`client_gone`), so a client that left is noticed
    within about a second rather than at the next keep-alive write.
    """
    run_id = first.run_id
    sent = _Projection(run_id, after or Cursor())
    yield f"retry: {RECONNECT_MS}\n\n"
    if first.status.terminal:
        # Nothing will change any more: no listener needed.
        yield from sent.run(first)
        if live is not None:
            yield from sent.live(live.read(live_path(run_id)))
        yield sent.end(first)
        return
    changes: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
    subscription = watcher.watch(run_id, lambda run: changes.put(("run", run)))
    live_subscription = (
        None if live is None else live.watch(run_id, lambda doc: changes.put(("live", doc)))
    )
    ends_at = clock() + stream_seconds
    outcome = "client gone"
    quiet_since = clock()
    try:
        while True:
            now = clock()
            remaining = ends_at - now
            if remaining <= 0:
                outcome = "stream time over"
                return
            if client_gone():
                return
            keepalive_in = quiet_since + keepalive_seconds - now
            if keepalive_in <= 0:
                if not subscription.active or (
                    live_subscription is not None and not live_subscription.active
                ):
                    outcome = "listener stopped"
                    return
                quiet_since = now
                yield KEEPALIVE
                continue
            try:
                kind, value = changes.get(
                    timeout=min(CLIENT_CHECK_SECONDS, keepalive_in, remaining)
                )
            except queue.Empty:
                continue
            if kind == "live":
                for chunk in sent.live(value):
                    quiet_since = clock()
                    yield chunk
                continue
            run: RunRecord | None = value
            if run is None:
                outcome = "run gone"
                return
            for chunk in sent.run(run):
                quiet_since = clock()
                yield chunk
            if run.status.terminal:
                if live is not None:
                    # The final commit's live entries may not have reached
                    # this listener yet: read them before ending.
                    yield from sent.live(live.read(live_path(run_id)))
                outcome = "run ended"
                yield sent.end(run)
                return
    finally:
        subscription.close()
        if live_subscription is not None:
            live_subscription.close()
        log.info("run event stream closed", extra={"runId": run_id, "outcome": outcome})


def last_event_id(ctx: RequestContext, query: EventsQuery) -> Cursor:
    """The client's position: the `Last-Event-ID` header, else `?lastEventId=`."""
    header = ctx.request.headers.get("Last-Event-ID")
    return Cursor.parse(header.strip() if header else query.last_event_id)


def stream_run(ctx: RequestContext, first: RunRecord, after: Cursor) -> Response:
    """The event stream of a run the caller may see."""
    settings = ctx.services.settings
    body = run_events(
        first,
        ctx.services.watcher,
        settings.events_keepalive_seconds,
        settings.events_stream_seconds,
        client_gone=ClientWatch(ctx.request.environ).gone,
        live=ctx.services.live,
        after=after,
    )
    return Response(
        body,
        status=200,
        mimetype="text/event-stream",
        # Tells nginx-style proxies not to buffer the stream.
        headers={"X-Accel-Buffering": "no"},
    )


def stream_events(ctx: RequestContext, run_id: str, query: EventsQuery) -> Response:
    # Checked before the stream starts, so another tenant's run is a plain 404.
    after = last_event_id(ctx, query)
    first = owned_run(ctx, run_id).record
    return stream_run(ctx, first, after)
