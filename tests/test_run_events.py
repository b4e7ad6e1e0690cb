"""GET /v1/runs/{runId}/events: a run's changes as Server-Sent Events, over real HTTP.

The api runs as a served process (gunicorn, as on Cloud Run), the worker
runs the run through the emulators meanwhile, and the test reads the stream
as a browser would.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from devtools.sse_client import Event, events
from devtools.worker_process import WorkerProcess
from tests.helpers.api_processes import StackSettings
from tests.helpers.stack import Stack

KEEPALIVE = 0.5


@pytest.fixture
def stack_settings(module_stack_settings: StackSettings) -> StackSettings:
    """The module's tests share their settings: one api process serves them all."""
    return module_stack_settings.for_next_test()


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {"EVENTS_KEEPALIVE_SECONDS": str(KEEPALIVE)}


def _stream(api: WorkerProcess, stack: Stack, run_id: str, tenant: str = "org-a") -> Any:
    return httpx.stream(
        "GET",
        f"{api.url}/v1/runs/{run_id}/events",
        headers=stack.token(tenant),
        timeout=httpx.Timeout(30.0),
    )


def _runs(received: list[Event]) -> list[dict[str, Any]]:
    return [e.json() for e in received if e.name == "run"]


def _closed_streams(api: WorkerProcess, run_id: str) -> list[str]:
    return [
        str(e.get("outcome"))
        for e in api.log_entries()
        if e.get("message") == "run event stream closed" and e.get("runId") == run_id
    ]


def _wait_for(condition: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    return condition()


def test_a_stream_follows_a_run_from_queued_to_completed_and_ends_with_it(
    stack: Stack, api_process: WorkerProcess
):
    created = stack.create_brainstorm()
    stack.llm.delay = 0.5  # the steps take long enough to be seen running
    received: list[Event] = []
    with _stream(api_process, stack, created["runId"]) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "no-store" in response.headers["cache-control"]
        worker = threading.Thread(target=stack.deliver_all)
        for event in events(response):
            received.append(event)
            if len(received) == 1:
                worker.start()  # the first event is the run as it was: still queued
    worker.join()

    runs = _runs(received)
    assert runs[0]["status"] == "QUEUED"
    assert "RUNNING" in [r["status"] for r in runs]
    # Step by step: the steps' completions arrive as they happen, in order.
    completed = [sum(s["status"] == "COMPLETED" for s in r["steps"]) for r in runs]
    assert completed == sorted(completed)
    assert len(set(completed)) >= 3
    last = runs[-1]
    assert last["status"] == "COMPLETED"
    assert [s["status"] for s in last["steps"]] == ["COMPLETED"] * 4
    assert last == stack.run_view(created["runId"])
    assert received[-1].name == "end"  # then the server closed the stream
    assert received[-1].json() == {"runId": created["runId"], "status": "COMPLETED"}


def test_a_finished_run_streams_its_final_state_and_ends_at_once(
    stack: Stack, api_process: WorkerProcess
):
    created = stack.create_brainstorm()
    stack.deliver_all()

    with _stream(api_process, stack, created["runId"]) as response:
        received = list(events(response))

    names = [e.name for e in received]
    assert [n for n in names if n in ("run", "end")] == ["run", "end"]
    # Between them only the streamed seeds and their committed list (test_live_output.py).
    assert names[0] == "run"
    assert set(names[1:-1]) <= {"item", "final"}
    assert received[0].json() == stack.run_view(created["runId"])
    assert received[-1].json()["status"] == "COMPLETED"


def test_a_cancel_reaches_an_open_stream_as_its_terminal_state(
    stack: Stack, api_process: WorkerProcess
):
    created = stack.create_brainstorm()
    with _stream(api_process, stack, created["runId"]) as response:
        stream = events(response)
        assert next(stream).json()["status"] == "QUEUED"
        assert stack.post(f"/v1/runs/{created['runId']}/cancel", {}).status_code == 202
        rest = [e for e in stream if e.name != "comment"]

    assert [e.name for e in rest] == ["run", "end"]
    assert rest[0].json()["status"] == "CANCELLED"
    assert rest[1].json()["status"] == "CANCELLED"


def test_another_tenants_run_is_not_found_before_any_stream_starts(
    stack: Stack, api_process: WorkerProcess
):
    created = stack.create_brainstorm()

    with _stream(api_process, stack, created["runId"], tenant="org-b") as response:
        response.read()

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"
    assert _closed_streams(api_process, created["runId"]) == []


def test_a_stream_needs_a_token(stack: Stack, api_process: WorkerProcess):
    created = stack.create_brainstorm()

    response = httpx.get(f"{api_process.url}/v1/runs/{created['runId']}/events")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_an_idle_stream_carries_keep_alive_comments(stack: Stack, api_process: WorkerProcess):
    created = stack.create_brainstorm()  # nobody delivers it: nothing changes

    received: list[Event] = []
    with _stream(api_process, stack, created["runId"]) as response:
        for event in events(response):
            received.append(event)
            if len([e for e in received if e.name == "comment"]) == 3:
                break

    assert [e.name for e in received] == ["run", "comment", "comment", "comment"]
    assert {e.data for e in received[1:]} == {"keep-alive"}


def test_the_listener_is_closed_when_the_client_goes_away(stack: Stack, api_process: WorkerProcess):
    created = stack.create_brainstorm()
    with _stream(api_process, stack, created["runId"]) as response:
        assert next(events(response)).name == "run"
    # The client hung up; the next keep-alive write fails and the server
    # closes the stream and its Firestore listener.

    outcomes = _wait_for(lambda: _closed_streams(api_process, created["runId"]))

    assert outcomes == ["client gone"]


@pytest.fixture
def short_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTS_STREAM_SECONDS", "1.5")


def test_a_stream_ends_itself_before_the_request_timeout_and_a_reconnect_resumes(
    short_streams: None, stack: Stack, api_process: WorkerProcess
):
    created = stack.create_brainstorm()

    started = time.monotonic()
    with _stream(api_process, stack, created["runId"]) as first:
        before = list(events(first))
    lasted = time.monotonic() - started
    stack.deliver_all()
    with _stream(api_process, stack, created["runId"]) as second:
        after = [e for e in events(second) if e.name != "comment"]

    assert "end" not in [e.name for e in before]  # no end: the client reconnects
    assert _runs(before)[0]["status"] == "QUEUED"
    assert 1.5 <= lasted < 10
    names = [e.name for e in after]
    assert [n for n in names if n in ("run", "end")] == ["run", "end"]
    assert names[0] == "run"
    assert set(names[1:-1]) <= {"item", "final"}
    assert _runs(after)[0]["status"] == "COMPLETED"
    assert "stream time over" in _closed_streams(api_process, created["runId"])
