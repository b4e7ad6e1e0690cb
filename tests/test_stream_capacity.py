"""Hundreds of open event streams leave an api instance answering everything else.

The api is served as Cloud Run serves it (the `functions-framework` command:
gunicorn with `shared/http/server.py`'s worker), with Terraform's
`api_concurrency` as THREADS and the stream caps at their defaults, on the
emulators. 200 streams on 200 QUEUED runs (nobody delivers them, so each
stays open) are all admitted, and with them open `/healthz` and another
tenant's create still answer. `python -m bench.streams` times the same with
500 streams; this test asserts the answers, not their speed.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from devtools.dev import terraform_default
from devtools.worker_process import WorkerProcess
from shared.adapters.firestore_store import FirestoreRunStore, client_for
from shared.engine import RunStatus
from tests.helpers.runs_support import seed_run
from tests.helpers.stack import PROJECT, Stack
from tests.helpers.streams_support import HeldStream, open_stream

STREAMS = 200


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {
        "THREADS": terraform_default("api_concurrency"),
        "EVENTS_KEEPALIVE_SECONDS": "120",
        "EVENTS_STREAM_SECONDS": "600",  # none ends itself while the others open
        "LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def cloud_api(stack: Stack, tmp_path: Path) -> Iterator[WorkerProcess]:
    api = WorkerProcess(tmp_path, name="api", target="api", as_on_cloud=True).start(timeout=60)
    try:
        yield api
    finally:
        api.kill()  # open streams would make a graceful stop wait


@pytest.fixture
def held() -> Iterator[list[HeldStream]]:
    streams: list[HeldStream] = []
    yield streams
    for stream in streams:
        stream.close()


def test_two_hundred_open_streams_leave_healthz_and_creates_answering(
    stack: Stack, cloud_api: WorkerProcess, held: list[HeldStream]
):
    store = FirestoreRunStore(client_for(PROJECT))
    runs = [seed_run(store, tenant="org-a", status=RunStatus.QUEUED) for _ in range(STREAMS)]
    authorization = stack.token("org-a")["Authorization"]
    with ThreadPoolExecutor(16) as pool:
        held.extend(
            pool.map(
                lambda run: open_stream(cloud_api.port, run.run_id, authorization, timeout=60),
                runs,
            )
        )
    assert [s.status for s in held] == [200] * STREAMS

    with httpx.Client(base_url=cloud_api.url, timeout=60) as client:
        assert client.get("/healthz").status_code == 200
        created = client.post(
            "/v1/brainstorm-sessions",
            json={"prompt": "A youth exchange about climate and art", "seedCount": 5},
            headers=stack.token("org-b"),
        )
        assert created.status_code == 202, created.text


def test_connections_stay_alive_between_requests_with_terraforms_threads(cloud_api: WorkerProcess):
    # gunicorn keeps a connection alive only while fewer than
    # worker_connections - THREADS are idle: at its default (1000) and 1000
    # threads, it would close every connection after one answer.
    with httpx.Client(base_url=cloud_api.url, timeout=60) as client:
        answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.headers.get("connection", "").lower() != "close"
