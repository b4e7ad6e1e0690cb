"""The api under its real server (functions-framework on gunicorn), spoken to over raw sockets.

The in-process test client cannot send a chunked body, a length it never
delivers or a malformed chunk; here each gets its JSON error without the
server reading past the limit. The last test pins what gunicorn answers
before the app sees a request (docs/api.md's table of platform answers).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools import REPO_ROOT
from devtools.worker_process import WorkerProcess
from shared.http.responses import MAX_BODY_BYTES
from tests.helpers.auth_support import (
    AUDIENCE,
    ISSUER,
    SigningKey,
    bearer,
    claims,
    mint,
    rsa_key,
    write_jwks,
)


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return rsa_key("limits")


@pytest.fixture(scope="module")
def api_server(
    tmp_path_factory: pytest.TempPathFactory, key: SigningKey
) -> Iterator[WorkerProcess]:
    log_dir: Path = tmp_path_factory.mktemp("api-server")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "GOOGLE_CLOUD_PROJECT": "demo-genjobs-test",
        "AUTH_JWKS_FILE": str(write_jwks(log_dir / "jwks.json", key)),
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": AUDIENCE,
    }
    server = WorkerProcess(log_dir, env=env, name="limits", target="api").start()
    try:
        yield server
    finally:
        server.stop()


def _exchange(server: WorkerProcess, request: bytes, timeout: float = 5.0) -> tuple[int, bytes]:
    """Send raw bytes; the answer's status and body (fails if none comes within `timeout`)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        # The server may answer and close before taking it all: read the answer anyway.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        received = b""
        while b"\r\n\r\n" not in received or not _complete(received):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body


def _complete(received: bytes) -> bool:
    head, _, body = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False


def _post(path: str, headers: bytes, body: bytes = b"") -> bytes:
    return b"POST " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\n" + headers + b"\r\n" + body


def _chunked(data: bytes, size: int = 8192) -> bytes:
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


def _error_code(body: bytes) -> str:
    code: str = json.loads(body)["error"]["code"]
    return code


def test_a_chunked_body_over_the_limit_is_413_json(api_server: WorkerProcess):
    request = _post(
        "/v1/brainstorm-sessions",
        b"Transfer-Encoding: chunked\r\n",
        _chunked(b"x" * (MAX_BODY_BYTES * 4)),
    )

    status, body = _exchange(api_server, request)

    assert status == 413
    assert _error_code(body) == "payload_too_large"


def test_a_declared_length_over_the_limit_is_answered_without_reading_the_body(
    api_server: WorkerProcess,
):
    # 10 MB announced, 2 bytes sent: an answer within the timeout proves nothing waited for more.
    request = _post("/v1/brainstorm-sessions", b"Content-Length: 10000000\r\n", b"{}")

    status, body = _exchange(api_server, request, timeout=3.0)

    assert status == 413
    assert _error_code(body) == "payload_too_large"


def test_a_malformed_chunk_is_400_json(api_server: WorkerProcess):
    request = _post("/v1/brainstorm-sessions", b"Transfer-Encoding: chunked\r\n", b"ZZ\r\n{}\r\n")

    status, body = _exchange(api_server, request)

    assert status == 400
    assert _error_code(body) == "malformed_request"


def test_a_path_holding_a_newline_is_404_json(api_server: WorkerProcess):
    request = b"GET /v1/runs/a%0Ab HTTP/1.1\r\nHost: localhost\r\n\r\n"

    status, body = _exchange(api_server, request)

    assert status == 404
    assert _error_code(body) == "not_found"


@pytest.mark.parametrize(
    ("header", "status", "code"),
    [
        (b"Authorization: Bearer " + b"a" * 8000, 401, "unauthenticated"),
        (b"Idempotency-Key: " + b"k" * 8000, 422, "invalid_input"),
        (b"X-Anything: " + b"x" * 8000, 422, "invalid_input"),
    ],
    ids=["authorization", "idempotency-key", "any-other"],
)
def test_the_largest_headers_gunicorn_lets_through_are_answered_by_the_app(
    api_server: WorkerProcess, key: SigningKey, header: bytes, status: int, code: str
):
    """Headers just under gunicorn's 8190-byte line limit reach the app and get its JSON answers.

    (The body is valid except for a missing field where the header is not the
    one at fault, so nothing is written and no Firestore is needed.)
    """
    body = json.dumps({"prompt": "A youth exchange about climate and art"}).encode()
    if not header.startswith(b"Idempotency-Key"):
        body = b"{}"
    token = b"Authorization: " + bearer(mint(key, claims())).encode() + b"\r\n"
    if header.startswith(b"Authorization"):
        token = b""
    request = _post(
        "/v1/brainstorm-sessions",
        token + header + b"\r\nContent-Length: %d\r\n" % len(body),
        body,
    )

    answer, text = _exchange(api_server, request)

    assert answer == status, text
    assert _error_code(text) == code


@pytest.mark.parametrize(
    "headers",
    [b"X-Big: " + b"a" * 9000 + b"\r\n", b"".join(b"X-%d: a\r\n" % i for i in range(101))],
    ids=["one-field-over-8190-bytes", "over-100-fields"],
)
def test_gunicorn_answers_oversized_headers_431_before_the_app(
    api_server: WorkerProcess, headers: bytes
):
    request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n" + headers + b"\r\n"

    status, _ = _exchange(api_server, request)

    assert status == 431
