"""clients/typescript/events.ts, compiled and run by node against the api served over HTTP.

The reader is what a frontend uses to follow a run: it must hand out typed
events, reconnect by itself when the server ends a stream without `end`
(every EVENTS_STREAM_SECONDS), stop after `end`, and throw on a refusal
instead of retrying it for ever.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from devtools.worker_process import WorkerProcess
from tests.helpers.stack import Stack
from tests.helpers.ts_reader import compile_reader


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {"EVENTS_STREAM_SECONDS": "1", "EVENTS_KEEPALIVE_SECONDS": "0.5"}


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_reader(tmp_path_factory.mktemp("ts-reader"))


def _read(reader: Path, api: WorkerProcess, path: str, token: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["node", str(reader / "read.mjs"), api.url, path, token],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _streams_closed(api: WorkerProcess, run_id: str, outcome: str) -> int:
    return sum(
        1
        for e in api.log_entries()
        if e.get("message") == "run event stream closed"
        and e.get("runId") == run_id
        and e.get("outcome") == outcome
    )


def test_the_reader_reconnects_after_a_stream_ends_and_stops_at_end(
    reader: Path, stack: Stack, api_process: WorkerProcess
):
    run_id = stack.create_brainstorm()["runId"]
    token = stack.token()["Authorization"].removeprefix("Bearer ")
    node = _read(reader, api_process, f"/v1/runs/{run_id}/events", token)
    try:
        deadline = time.monotonic() + 30
        while _streams_closed(api_process, run_id, "stream time over") < 2:
            assert node.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert stack.post(f"/v1/runs/{run_id}/cancel", {}).status_code == 202
        out, err = node.communicate(timeout=30)
    finally:
        node.kill()

    assert node.returncode == 0, err
    received: list[dict[str, Any]] = [json.loads(line) for line in out.splitlines()]
    assert {e["type"] for e in received[:-2]} == {"run"}  # one per connection, each QUEUED
    assert len(received) >= 4
    assert [e["type"] for e in received[-2:]] == ["run", "end"]
    assert received[-1]["data"] == {"runId": run_id, "status": "CANCELLED"}


def test_the_reader_throws_on_another_tenants_run_instead_of_retrying(
    reader: Path, stack: Stack, api_process: WorkerProcess
):
    run_id = stack.create_brainstorm()["runId"]
    token = stack.token("org-b")["Authorization"].removeprefix("Bearer ")
    node = _read(reader, api_process, f"/v1/runs/{run_id}/events", token)
    try:
        out, err = node.communicate(timeout=30)
    finally:
        node.kill()

    assert node.returncode == 3
    assert "ApiError 404" in err
    assert out == ""
