"""Reading live output (issue 18) as a frontend does: subject streams, ids, resumption."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from devtools.sse_client import Event, events, parse
from devtools.worker_process import WorkerProcess
from tests.helpers.stack import Stack

LIVE = ("item", "reset", "final")


def live(received: list[Event]) -> list[Event]:
    """The streamed-item events, in order."""
    return [e for e in received if e.name in LIVE]


def session_stream(
    api: WorkerProcess, stack: Stack, path: str, last_event_id: str | None = None
) -> Any:
    headers = stack.token()
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    return httpx.stream("GET", f"{api.url}{path}", headers=headers, timeout=httpx.Timeout(30.0))


def read_in_process(stack: Stack, path: str, last_event_id: str) -> list[Event]:
    """The stream as another api instance serves it: the in-process app, not the served one."""
    headers = {**stack.token(), "Last-Event-ID": last_event_id}
    response = stack.api.get(path, headers=headers, buffered=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [e for e in parse(response.get_data(as_text=True).split("\n")) if e.name != "comment"]


@contextmanager
def worker_on_first_event(stack: Stack) -> Iterator[Callable[[], None]]:
    """Runs every delivery in a thread once `start()` is called; joined on exit."""
    thread = threading.Thread(target=stack.deliver_all, daemon=True)
    started = False

    def start() -> None:
        nonlocal started
        if not started:
            started = True
            thread.start()

    try:
        yield start
    finally:
        stack.llm.release.set()
        if started:
            thread.join(timeout=60)


def follow(
    api: WorkerProcess | None,
    stack: Stack,
    path: str,
    on_event: Callable[[Event, list[Event]], bool] = lambda _e, _r: True,
) -> list[Event]:
    """Every event (comments left out) of a stream, starting the worker at the first one.

    Read over HTTP from `api`, or (None) from the in-process app, whose
    streamed body is the same generator without a server process to start.
    `on_event` sees each event and what came before; returning False stops reading.
    """
    received: list[Event] = []
    with worker_on_first_event(stack) as start, _stream(api, stack, path) as stream:
        for event in stream:
            if event.name == "comment":
                continue
            received.append(event)
            start()
            if not on_event(event, received):
                break
    return received


@contextmanager
def _stream(api: WorkerProcess | None, stack: Stack, path: str) -> Iterator[Iterator[Event]]:
    if api is not None:
        with session_stream(api, stack, path) as response:
            assert response.status_code == 200
            yield events(response)
        return
    response = stack.api.get(path, headers=stack.token(), buffered=False)
    assert response.status_code == 200
    try:
        yield parse(_lines(response.response))
    finally:
        response.close()


def _lines(chunks: Iterable[bytes | str]) -> Iterator[str]:
    pending = ""
    for chunk in chunks:
        pending += chunk.decode() if isinstance(chunk, bytes) else chunk
        *complete, pending = pending.split("\n")
        yield from complete
