"""Fair per-tenant concurrency end to end: one tenant's flood does not hold up another tenant.

Real emulators, the api in process, a worker process serving many requests
at once (functions-framework's gunicorn with THREADS), every published run
event pushed to it at once, and a model that takes 1 s per answer while tenant B's run is
under way.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from google.cloud.firestore_v1.base_query import FieldFilter

from devtools import REPO_ROOT
from devtools.worker_process import WorkerProcess
from tests.helpers.push_support import Pusher
from tests.helpers.stack import Stack

LIMIT = 3
MODEL_SECONDS = 1.0
FLOOD = 30


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {"TENANT_MAX_ACTIVE_RUNS": str(LIMIT)}


@pytest.fixture
def worker(stack: Stack, tmp_path: Path) -> Iterator[WorkerProcess]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "THREADS": "64", "LOG_LEVEL": "WARNING"}
    started = WorkerProcess(tmp_path, env=env).start()
    try:
        yield started
    finally:
        started.kill()  # nothing of it is checked after the test: no graceful stop to wait out


class InFlight:
    """Samples a tenant's runs that hold a live lease (are executing), from the run documents."""

    def __init__(self, stack: Stack, tenant: str) -> None:
        self.query = (
            stack.services.db.collection("runs")
            .where(filter=FieldFilter("tenantId", "==", tenant))
            .where(filter=FieldFilter("status", "==", "RUNNING"))
        )
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> InFlight:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            now = datetime.now(UTC)
            live = [
                doc
                for doc in self.query.stream()
                if (doc.to_dict() or {}).get("leaseExpiresAt") is not None
                and doc.to_dict()["leaseExpiresAt"] > now  # type: ignore[index]
            ]
            self.peak = max(self.peak, len(live))


def _wait_completed(stack: Stack, run_id: str, timeout: float) -> float:
    """Seconds until the run is COMPLETED (fails the test after `timeout`)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        status = stack.run_doc(run_id)["status"]
        if status == "COMPLETED":
            return time.monotonic() - start
        assert status in ("QUEUED", "RUNNING"), stack.run_doc(run_id)
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not complete in {timeout} s: {stack.run_doc(run_id)}")


def _run_docs(stack: Stack, run_ids: list[str]) -> list[dict[str, Any]]:
    """The runs' documents in one read (a poll of FLOOD reads every 50 ms costs seconds of CPU)."""
    runs = stack.services.db.collection("runs")
    return [
        snap.to_dict() or {}
        for snap in stack.services.db.get_all([runs.document(r) for r in run_ids])
    ]


def _all_delivered(stack: Stack, run_ids: list[str], timeout: float = 60.0) -> None:
    """Wait until each run was taken or parked (A's queue is full and waiting)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        docs = _run_docs(stack, run_ids)
        if len(docs) == len(run_ids) and all(
            d["status"] != "QUEUED" or d.get("waitingForSlot") for d in docs
        ):
            return
        time.sleep(0.05)
    raise AssertionError(f"the flood was not delivered within {timeout} s")


def test_a_tenants_flood_runs_at_its_limit_and_another_tenant_is_not_held_up(
    stack: Stack, worker: WorkerProcess
):
    stack.llm.delay = MODEL_SECONDS
    body = {"prompt": "A youth exchange about climate and art", "seedCount": 5}
    with Pusher(stack, worker), InFlight(stack, "org-a") as flood:
        flooded = []
        for _ in range(FLOOD):
            response = stack.post("/v1/brainstorm-sessions", body, tenant="org-a")
            assert response.status_code == 202, response.get_json()
            flooded.append(response.get_json()["runId"])
        _all_delivered(stack, flooded)
        response = stack.post("/v1/brainstorm-sessions", body, tenant="org-b")
        assert response.status_code == 202, response.get_json()

        _wait_completed(stack, response.get_json()["runId"], timeout=60)
        a_statuses = [stack.run_doc(r)["status"] for r in flooded]
        # The rest of A's queue need not take a model latency each.
        stack.llm.delay = 0.0
        for run_id in flooded:
            _wait_completed(stack, run_id, timeout=120)

    # B behind A's queue would come after all FLOOD of A's runs; beside A's
    # LIMIT, B ends within a few model latencies, while A ends LIMIT a latency
    # (counted in A's runs rather than seconds, so a loaded machine slows both).
    assert a_statuses.count("COMPLETED") < 4 * LIMIT
    assert a_statuses.count("QUEUED") > FLOOD / 2  # B overtook most of A's queue
    assert flood.peak == LIMIT
    # A's at most 3 and B's one are all the model ever served at once.
    assert stack.llm.peak_in_flight <= LIMIT + 1
