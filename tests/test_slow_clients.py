"""Slow senders hold no server thread: /healthz answers while 100 requests trickle in.

The api is served as on Cloud Run (functions-framework's gunicorn) with 4
threads. Gunicorn alone gives a connection a thread at its first byte and
that thread then waits for the rest of the request, so a few clients
sending a byte at a time held every thread. `shared/http/server.py` reads
what has arrived and gives the connection back to the event loop until the
rest comes; a request still incomplete `HTTP_READ_TIMEOUT_SECONDS` after its
first byte is answered 408 (JSON) and closed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import httpx
import pytest

from devtools import REPO_ROOT
from devtools.worker_process import WorkerProcess
from tests.helpers.slow_clients import SLOW_BODY, SLOW_CHUNKED_BODY, SLOW_HEAD, trickling

THREADS = 4
READ_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def slow_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    """One server for the module: each test's slow connections are closed when it ends."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "GOOGLE_CLOUD_PROJECT": "demo-genjobs-test",
        "THREADS": str(THREADS),
        "HTTP_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
    }
    log_dir = tmp_path_factory.mktemp("slow-api")
    server = WorkerProcess(log_dir, env=env, name="slow", target="api").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(
    "request_bytes",
    [SLOW_HEAD, SLOW_BODY, SLOW_CHUNKED_BODY],
    ids=["slow-head", "slow-body", "slow-chunked-body"],
)
def test_healthz_answers_while_a_hundred_slow_senders_trickle(
    slow_api: WorkerProcess, request_bytes: tuple[bytes, bytes]
):
    with trickling(slow_api.port, request_bytes, connections=100, interval=0.2):
        time.sleep(1.0)  # every slow connection has sent its first bytes
        answers = [httpx.get(f"{slow_api.url}/healthz", timeout=3.0) for _ in range(3)]
        # Then they are refused (408) while they keep sending.
        time.sleep(READ_TIMEOUT)
        answers += [httpx.get(f"{slow_api.url}/healthz", timeout=3.0) for _ in range(3)]

    assert [a.status_code for a in answers] == [200] * 6


def test_a_request_not_complete_within_the_read_timeout_is_a_json_408(slow_api: WorkerProcess):
    with trickling(slow_api.port, SLOW_HEAD, connections=1, interval=0.1) as slow:
        sock = slow.sockets[0]
        sock.settimeout(READ_TIMEOUT * 4)
        received = b""
        try:
            while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
        except TimeoutError:
            pass

    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), received[:200]
    assert b"content-type: application/json" in head.lower()
    assert json.loads(body)["error"]["code"] == "request_timeout"
