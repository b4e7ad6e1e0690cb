"""clients/typescript/events.ts, compiled and run by node against the api served over HTTP.

The reader is what a frontend uses to follow a run: it must hand out typed
events, reconnect by itself with the last event's id when the server ends a
stream without `end` (every EVENTS_STREAM_SECONDS), so that nothing comes
twice, stop after `end`, and throw on a refusal instead of retrying it for
ever.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from devtools.worker_process import WorkerProcess
from tests.helpers.api_processes import StackSettings
from tests.helpers.stack import Stack
from tests.helpers.ts_reader import compile_reader


@pytest.fixture
def stack_settings(module_stack_settings: StackSettings) -> StackSettings:
    """The module's tests share their settings: one api process serves them all."""
    return module_stack_settings.for_next_test()


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


def test_the_reader_resumes_after_each_stream_end_without_repeats_and_stops_at_end(
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
    # Each reconnection sent the last id as Last-Event-ID, so the QUEUED view
    # came once, not once per connection; then the cancel, then end.
    assert [e["type"] for e in received] == ["run", "run", "end"]
    assert [e["data"]["status"] for e in received] == ["QUEUED", "CANCELLED", "CANCELLED"]
    assert received[0]["id"] != received[1]["id"]


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
