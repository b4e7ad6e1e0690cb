"""Through the real wire end to end: the emulator's subscriptions pushed to a worker process.

The push is the local stack's (`devtools.push`, as `make emulators` runs it).

Includes the fault the old system could not survive: the worker process is
killed in the middle of a step, its lease still held. A new worker and the
sweep pick the run up with no person involved.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from devtools.openai_server import Reply
from devtools.worker_process import WorkerProcess
from tests.helpers.push_support import Pusher
from tests.helpers.stack import Stack

LEASE = 2.0


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {"LEASE_SECONDS": str(LEASE)}


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.kill()  # nothing of them is checked after the test: no graceful stop to wait out


def _start_worker(workers: list[WorkerProcess], tmp_path: Path) -> WorkerProcess:
    worker = WorkerProcess(tmp_path).start()
    workers.append(worker)
    return worker


def _start_two_workers(
    workers: list[WorkerProcess], tmp_path: Path
) -> tuple[WorkerProcess, WorkerProcess]:
    """The worker to be killed and its successor, started side by side (seconds each)."""
    pair = (WorkerProcess(tmp_path, name="first"), WorkerProcess(tmp_path, name="second"))
    workers.extend(pair)
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda worker: worker.start(timeout=60), pair))  # raises what a start did
    return pair


def _wait_for_status(stack: Stack, session_id: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        session = stack.get(f"/v1/brainstorm-sessions/{session_id}").get_json()
        if session["status"] != "IN_PROGRESS" or time.monotonic() > deadline:
            return session
        time.sleep(0.2)


def test_a_session_completes_through_push_delivery_to_a_worker_process(
    stack: Stack, workers: list[WorkerProcess], tmp_path: Path
):
    worker = _start_worker(workers, tmp_path)

    with Pusher(stack, worker):
        created = stack.create_brainstorm(seedCount=8)
        session = _wait_for_status(stack, created["sessionId"], timeout=30)

    assert session["status"] == "COMPLETED"
    assert len(session["seeds"]) == 8
    assert stack.run_view(created["runId"])["deliveries"] == 1


def test_a_worker_killed_mid_step_is_recovered_by_a_new_worker_and_the_sweep(
    stack: Stack, workers: list[WorkerProcess], tmp_path: Path
):
    # The successor is up before the kill, as it was; started beside the
    # first rather than mid-step, its start no longer adds to the test.
    first, second = _start_two_workers(workers, tmp_path)
    with Pusher(stack, first, max_delivery_attempts=100) as pusher:
        stack.llm.script(Reply(delay=8))  # the first LLM call hangs: the worker is mid-step
        created = stack.create_brainstorm(seedCount=5)
        deadline = time.monotonic() + 20
        while not stack.llm.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stack.llm.requests, "the worker never reached generate-seeds"

        pusher.retarget(second.url)
        first.kill()
        assert stack.run_doc(created["runId"])["status"] == "RUNNING"  # lease still held

        deadline = time.monotonic() + 60
        session = {"status": "IN_PROGRESS"}
        while session["status"] == "IN_PROGRESS" and time.monotonic() < deadline:
            stack.services.publisher.publish_sweep()  # Cloud Scheduler's tick
            session = _wait_for_status(stack, created["sessionId"], timeout=1)

    assert session["status"] == "COMPLETED"
    assert len(session["seeds"]) == 5
    steps = {s["id"]: s for s in stack.run_view(created["runId"])["steps"]}
    assert steps["generate-seeds"]["attempts"] == 2
    assert len(stack.llm.requests) == 2
