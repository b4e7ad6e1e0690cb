"""The api under its real server (functions-framework on gunicorn), spoken to over raw sockets.

The in-process test client cannot send a chunked body, a length it never
delivers or a malformed chunk; here each gets its JSON error without the
server reading past the limit. Then the server's own limits
(`shared/http/server.py`): a bearer token of 16 KiB reaches the app, and
what the server refuses before the app sees a request (oversized or
malformed heads) is the api's JSON error too, when launched as Cloud Run's
runtime launches it (the `functions-framework` command) as well.
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
from shared.adapters.jwt_auth import MAX_TOKEN_LENGTH
from shared.http.responses import MAX_BODY_BYTES
from shared.http.server import MAX_HEADER_FIELD_BYTES, MAX_HEADER_FIELDS
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


class _Launches:
    """The api as `make dev` launches it and as Cloud Run does, each started once for the module."""

    def __init__(self, log_dir: Path, key: SigningKey) -> None:
        self.env = {
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "GOOGLE_CLOUD_PROJECT": "demo-genjobs-test",
            "AUTH_JWKS_FILE": str(write_jwks(log_dir / "jwks.json", key)),
            "AUTH_ISSUER": ISSUER,
            "AUTH_AUDIENCE": AUDIENCE,
        }
        self.log_dir = log_dir
        self.started: dict[bool, WorkerProcess] = {}

    def served(self, as_on_cloud: bool) -> WorkerProcess:
        if as_on_cloud not in self.started:
            self.started[as_on_cloud] = WorkerProcess(
                self.log_dir, env=self.env, name="limits", target="api", as_on_cloud=as_on_cloud
            ).start()
        return self.started[as_on_cloud]

    def stop(self) -> None:
        for server in self.started.values():
            server.stop()


@pytest.fixture(scope="module")
def launches(tmp_path_factory: pytest.TempPathFactory, key: SigningKey) -> Iterator[_Launches]:
    started = _Launches(tmp_path_factory.mktemp("api-server"), key)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def api_server(launches: _Launches) -> WorkerProcess:
    return launches.served(as_on_cloud=False)


@pytest.fixture(params=["make-dev", "as-on-cloud-run"])
def either_launch(request: pytest.FixtureRequest, launches: _Launches) -> WorkerProcess:
    """The api as `make dev` serves it, and as Cloud Run's runtime starts it."""
    return launches.served(as_on_cloud=request.param == "as-on-cloud-run")


def _answer(
    server: WorkerProcess, request: bytes, timeout: float = 5.0
) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes; the answer's status, headers and body (fails if none within `timeout`)."""
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
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split(" ", 2)[1]), headers, body


def _exchange(server: WorkerProcess, request: bytes, timeout: float = 5.0) -> tuple[int, bytes]:
    """Send raw bytes; the answer's status and body (fails if none comes within `timeout`)."""
    status, _, body = _answer(server, request, timeout)
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


# A header just under the field limit: its name, ": ", the value and CRLF.
_NEAR_LIMIT = MAX_HEADER_FIELD_BYTES - 100


@pytest.mark.parametrize(
    ("header", "status", "code"),
    [
        (b"Authorization: Bearer " + b"a" * _NEAR_LIMIT, 401, "unauthenticated"),
        (b"Idempotency-Key: " + b"k" * _NEAR_LIMIT, 422, "invalid_input"),
        (b"X-Anything: " + b"x" * _NEAR_LIMIT, 422, "invalid_input"),
    ],
    ids=["authorization", "idempotency-key", "any-other"],
)
def test_the_largest_headers_the_server_lets_through_are_answered_by_the_app(
    api_server: WorkerProcess, key: SigningKey, header: bytes, status: int, code: str
):
    """Headers just under the server's 32 KiB field limit reach the app and get its JSON answers.

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


def _token_of_length(key: SigningKey, length: int) -> str:
    """A valid token of exactly `length` characters: group claims pad it, as big IdPs issue."""
    padding = 0
    token = mint(key, claims(groups=[]))
    while len(token) < length:
        padding += max(1, (length - len(token)) * 3 // 4)
        token = mint(key, claims(groups=["g" * padding]))
    while len(token) > length:
        padding -= 1
        token = mint(key, claims(groups=["g" * padding]))
    return token


@pytest.mark.parametrize("length", [12_000, MAX_TOKEN_LENGTH], ids=["12-kB", "16-KiB"])
def test_a_large_valid_token_is_accepted(
    either_launch: WorkerProcess, key: SigningKey, length: int
):
    token = _token_of_length(key, length)
    request = (
        b"GET /v1/functions HTTP/1.1\r\nHost: localhost\r\n"
        b"Authorization: " + bearer(token).encode() + b"\r\n\r\n"
    )

    status, body = _exchange(either_launch, request)

    assert len(token) == length
    assert status == 200, body
    assert json.loads(body)["functions"]


@pytest.mark.parametrize(
    "headers",
    [
        b"X-Big: " + b"a" * MAX_HEADER_FIELD_BYTES + b"\r\n",
        b"".join(b"X-%d: a\r\n" % i for i in range(MAX_HEADER_FIELDS + 1)),
        b"".join(b"X-%d: %s\r\n" % (i, b"a" * 30_000) for i in range(3)),
    ],
    ids=["one-field-over-32-KiB", "over-100-fields", "over-64-KiB-in-all"],
)
def test_oversized_headers_are_a_json_431(either_launch: WorkerProcess, headers: bytes):
    request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n" + headers + b"\r\n"

    status, answer_headers, body = _answer(either_launch, request)

    assert status == 431, body
    assert answer_headers["content-type"] == "application/json"
    assert _error_code(body) == "request_header_fields_too_large"
    assert answer_headers["x-content-type-options"] == "nosniff"
    assert answer_headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nno colon here\r\n\r\n",
        b"GET /healthz HTTP/9.9\r\nHost: localhost\r\n\r\n",
        b"G\x00T /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n",
    ],
    ids=["header-line", "http-version", "method"],
)
def test_a_request_the_server_cannot_parse_is_a_json_400(
    either_launch: WorkerProcess, request_bytes: bytes
):
    status, answer_headers, body = _answer(either_launch, request_bytes)

    assert status == 400, body
    assert answer_headers["content-type"] == "application/json"
    assert _error_code(body) == "malformed_request"
    assert answer_headers["x-content-type-options"] == "nosniff"
