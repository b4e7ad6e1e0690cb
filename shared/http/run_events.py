"""GET /v1/runs/{runId}/events: a run's status and step changes as Server-Sent Events.

The stream is driven by a Firestore listener on the run document, not by
polling: each committed change arrives once, and an idle run costs nothing.
Events (`text/event-stream`):

- `run`: the run as `GET /v1/runs/{runId}` shows it, first as it is now, then
  after every change of its status, error, deliveries or any step;
- `end`: `{runId, status}` once the run is terminal, right after the `run`
  event that shows it; then the stream closes. A stream that closes without
  `end` (it reached `EVENTS_STREAM_SECONDS`, or the listener stopped) means
  "reconnect": a reconnection starts with the current state, so nothing is
  missed;
- comment lines (`: keep-alive`) after `EVENTS_KEEPALIVE_SECONDS` of silence,
  so that proxies do not cut an idle stream.

Serving cost: a stream holds one server thread for as long as it is open
(functions-framework's gunicorn serves `THREADS` requests at once per
instance, and Cloud Run counts the stream as one of the instance's
concurrent requests), and shares its run's one Firestore listener with the
instance's other streams of that run (`adapters/firestore_watch.py`); the
app layer admits streams through a `StreamGate` (per instance and per
tenant caps; 429 beyond); 500 per instance: docs/architecture.md. A
client that goes away is noticed within `CLIENT_CHECK_SECONDS` (its socket
is looked at between events, `streams.ClientWatch`), and its share of the
listener and its slot are given back then.
"""

from __future__ import annotations

import json
import logging
import queue
import time
from collections.abc import Callable, Iterator

from flask import Response

from shared.engine import RunRecord, RunWatcher, registry, run_view
from shared.http.context import RequestContext
from shared.http.runs import owned_run
from shared.http.streams import ClientWatch

log = logging.getLogger(__name__)

# How long a browser's EventSource waits before reconnecting (milliseconds).
RECONNECT_MS = 2000
KEEPALIVE = ": keep-alive\n\n"
# How often an idle stream looks whether its client is still connected.
CLIENT_CHECK_SECONDS = 1.0


def _event(name: str, data: str) -> str:
    return f"event: {name}\ndata: {data}\n\n"


def _view_json(run: RunRecord) -> str:
    view = run_view(run, registry.get(run.workflow))
    return view.model_dump_json(by_alias=True, exclude_none=True)


def _end(run: RunRecord) -> str:
    return _event("end", json.dumps({"runId": run.run_id, "status": run.status.value}))


def run_events(
    first: RunRecord,
    watcher: RunWatcher,
    keepalive_seconds: float,
    stream_seconds: float,
    clock: Callable[[], float] = time.monotonic,
    client_gone: Callable[[], bool] = lambda: False,
) -> Iterator[str]:
    """The stream's text, chunk by chunk; closing the iterator closes the listener.

    While no change arrives, the client's connection is looked at every
    `CLIENT_CHECK_SECONDS` (`client_gone`), so a client that left is noticed
    within about a second rather than at the next keep-alive write.
    """
    yield f"retry: {RECONNECT_MS}\n\n"
    if first.status.terminal:
        # Nothing will change any more: no listener needed.
        yield _event("run", _view_json(first))
        yield _end(first)
        return
    changes: queue.SimpleQueue[RunRecord | None] = queue.SimpleQueue()
    subscription = watcher.watch(first.run_id, changes.put)
    ends_at = clock() + stream_seconds
    outcome = "client gone"
    last = ""
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
                if not subscription.active:
                    outcome = "listener stopped"
                    return
                quiet_since = now
                yield KEEPALIVE
                continue
            try:
                run = changes.get(timeout=min(CLIENT_CHECK_SECONDS, keepalive_in, remaining))
            except queue.Empty:
                continue
            if run is None:
                outcome = "run gone"
                return
            view = _view_json(run)
            if view != last:  # a lease renewal changes the document, not the view
                last = view
                quiet_since = clock()
                yield _event("run", view)
            if run.status.terminal:
                outcome = "run ended"
                yield _end(run)
                return
    finally:
        subscription.close()
        log.info("run event stream closed", extra={"runId": first.run_id, "outcome": outcome})


def stream_events(ctx: RequestContext, run_id: str) -> Response:
    # Checked before the stream starts, so another tenant's run is a plain 404.
    first = owned_run(ctx, run_id).record
    settings = ctx.services.settings
    body = run_events(
        first,
        ctx.services.watcher,
        settings.events_keepalive_seconds,
        settings.events_stream_seconds,
        client_gone=ClientWatch(ctx.request.environ).gone,
    )
    return Response(
        body,
        status=200,
        mimetype="text/event-stream",
        # Tells nginx-style proxies not to buffer the stream.
        headers={"X-Accel-Buffering": "no"},
    )
