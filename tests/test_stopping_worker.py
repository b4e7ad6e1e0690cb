"""A worker process stopped the way Cloud Run stops instances, on the emulators and the real wire.

SIGTERM (a deploy, a scale-in): the worker hands its runs over at once and
another instance completes them, each step's effects exactly once. SIGKILL
(OOM, crash): Pub/Sub's redelivery of the push takes the run over as soon as
the dead worker's lease expires, with no sweep tick. The times are printed
(`-s`; they include the other process's first delivery, which builds its
clients: seconds on this machine); `bench/recovery.py` measures them with
warm instances.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devtools.openai_server import Reply
from devtools.polling import until
from devtools.worker_process import WorkerProcess
from tests.helpers.push_support import Pusher
from tests.helpers.stack import Stack

LEASE = 4.0
RUNS = 10
SEEDS = 5
# The model calls in flight when the worker is stopped: longer than the
# handover, shorter than OPENAI_TIMEOUT_SECONDS (10 s in the tests).
HELD_CALL_SECONDS = 8.0


@pytest.fixture
def stack_env() -> dict[str, str]:
    # Enough threads for every push at once (the default is 4 a core), and
    # every run of the tenant executing at once (the default limit is 5).
    return {"LEASE_SECONDS": str(LEASE), "THREADS": "16", "TENANT_MAX_ACTIVE_RUNS": "16"}


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[WorkerProcess, WorkerProcess]]:
    """The instance to be stopped and the one that takes over, started side by side."""
    workers = (WorkerProcess(tmp_path, name="a"), WorkerProcess(tmp_path, name="b"))
    threads = [threading.Thread(target=w.start, kwargs={"timeout": 60}) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        yield workers
    finally:
        for worker in workers:
            worker.kill()


def _sessions_done(stack: Stack, session_ids: list[str]) -> Callable[[], bool]:
    def done() -> bool:
        return all(
            stack.get(f"/v1/brainstorm-sessions/{s}").get_json()["status"] != "IN_PROGRESS"
            for s in session_ids
        )

    return done


def test_sigterm_hands_every_run_in_flight_over_and_each_completes_once(
    stack: Stack, two_workers: tuple[WorkerProcess, WorkerProcess]
):
    stopping, other = two_workers
    stack.llm.script(*[Reply(delay=HELD_CALL_SECONDS) for _ in range(RUNS)])
    with Pusher(stack, stopping) as pusher:
        created = [stack.create_brainstorm(seedCount=SEEDS) for _ in range(RUNS)]
        assert until(lambda: len(stack.llm.requests) == RUNS, 30), "runs never reached the model"
        pusher.retarget(other.url)  # Cloud Run routes new pushes to the other instances

        assert stopping.process is not None
        os.killpg(stopping.process.pid, signal.SIGTERM)
        sigterm = time.monotonic()
        # Every run's model call made again, by the other instance.
        assert until(lambda: len(stack.llm.requests) == 2 * RUNS, 30)
        handover = time.monotonic() - sigterm
        session_ids = [c["sessionId"] for c in created]
        assert until(_sessions_done(stack, session_ids), 30)
        # The stopped instance's pushes: under way at SIGTERM.
        stopped_pushes = [
            d
            for d in pusher.deliveries(stack.services.settings.events_topic)
            if d.started < sigterm < d.ended
        ]

    print(f"\nSIGTERM -> {RUNS} runs' steps running on the other instance: {handover:.2f} s")
    for c in created:
        session = stack.get(f"/v1/brainstorm-sessions/{c['sessionId']}").get_json()
        assert session["status"] == "COMPLETED"
        seeds = stack.services.db.collection(f"brainstormSessions/{c['sessionId']}/seeds").get()
        assert len(seeds) == SEEDS  # the domain writes, once
        run = stack.run_view(c["runId"])
        assert run["status"] == "COMPLETED"
        assert run["deliveries"] == 2
        # The abandoned attempt was given back, not counted as a crash.
        assert {s["id"]: s["attempts"] for s in run["steps"]}["generate-seeds"] == 1
    # Each was answered 2xx: not cut off when gunicorn's grace (5 s) ran out
    # before the model call (8 s), and not left to the ack deadline.
    assert [(d.status, d.acked) for d in stopped_pushes] == [(200, True)] * RUNS
    assert len(stack.llm.requests) == 2 * RUNS


def test_sigkill_is_recovered_by_the_pushs_redelivery_at_lease_expiry_without_a_sweep(
    stack: Stack, two_workers: tuple[WorkerProcess, WorkerProcess]
):
    killed, other = two_workers
    # No sweep tick is published in this test. A short backoff: the push's
    # redelivery comes while the dead worker's lease is still live.
    stack.llm.script(Reply(delay=HELD_CALL_SECONDS))
    with Pusher(stack, killed, backoff_seconds=(1.0, 2.0)) as pusher:
        created = stack.create_brainstorm(seedCount=SEEDS)
        assert until(lambda: len(stack.llm.requests) == 1, 30), "the run never reached the model"
        pusher.retarget(other.url)
        killed.kill()
        kill = time.monotonic()
        assert until(lambda: len(stack.llm.requests) == 2, 30)
        recovery = time.monotonic() - kill
        assert until(_sessions_done(stack, [created["sessionId"]]), 30)

    print(
        f"\nSIGKILL -> the step running on the other instance: {recovery:.2f} s (lease {LEASE} s)"
    )
    run = stack.run_view(created["runId"])
    assert run["status"] == "COMPLETED"
    assert {s["id"]: s["attempts"] for s in run["steps"]}["generate-seeds"] == 2
    seeds = stack.services.db.collection(f"brainstormSessions/{created['sessionId']}/seeds").get()
    assert len(seeds) == SEEDS
