"""The functions' HTTP server: functions-framework's gunicorn, with our limits and our error shape.

Cloud Run functions starts the api the way `make dev` does: its Python
buildpack runs the `functions-framework` command (GoogleCloudPlatform/
buildpacks, `cmd/python/functions_framework`), which imports
`functions/api/main.py` and then serves it with gunicorn's threaded worker
(`functions_framework._http.gunicorn.GunicornApplication`). That class
offers no setting for the three things the api needs from its server, so
the entry point calls `install` while it is imported (before
functions-framework builds its server), and `ApiServer` adds them:

- **Headers up to 32 KiB a field** (gunicorn's default is 8190 bytes): a
  JWT of 12-16 kB, as identity providers with many group claims issue,
  reaches the app. Larger heads (a field over 32 KiB, more than 100 fields,
  64 KiB in all) are answered 431 (414 for the request line) in the api's
  JSON error shape, never gunicorn's HTML page.
- **No thread waits for a slow sender** (`ApiWorker`). Gunicorn hands a
  connection to a thread as soon as its first byte arrives and the thread
  then blocks until the headers are complete: 100 connections sending their
  headers a byte at a time held every thread and `/healthz` waited behind
  them. Here a thread only reads what has arrived and hands the connection
  back to gunicorn's event loop until the rest comes; the request (its head
  and a body of up to 64 kB, declared or chunked) is dispatched once
  complete, and a request not complete within `HTTP_READ_TIMEOUT_SECONDS`
  of its first byte is answered 408 and closed. Once dispatched, a read or
  write that stalls that long (a client that stops reading) fails.
- **Every answer gunicorn itself gives** (a malformed request line or header,
  a bad chunk, the limits above) is JSON with `nosniff` and `no-store`.

The worker function keeps gunicorn's threaded worker as it is, except for
SIGTERM: `install_worker` serves it with `StoppingWorker`, which hands the
instance's runs over to other instances at once (docs/architecture.md,
"Stopped and crashed instances").

In production Google's front end sits before gunicorn (it terminates TLS
and HTTP/2 and talks HTTP/1.1 to the instance); docs/api.md says what is
known of its own limits.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable
from ssl import SSLError
from typing import Any

from gunicorn.http.errors import (
    ConfigurationProblem,
    ExpectationFailed,
    ForbiddenProxyRequest,
    InvalidResponseHeader,
    InvalidResponseHeaderName,
    LimitRequestHeaders,
    LimitRequestLine,
    ParseException,
    UnsupportedTransferCoding,
)
from gunicorn.workers.gthread import _DEFER, ThreadWorker

from shared.config import Settings
from shared.http.responses import MAX_BODY_BYTES
from shared.http.routing import answer_headers

# One header line (name, value and CRLF): a 16 kB bearer token fits twice over.
MAX_HEADER_FIELD_BYTES = 32 * 1024
MAX_HEADER_FIELDS = 100  # gunicorn's default, kept
# The request line and every header together.
MAX_HEAD_BYTES = 64 * 1024

# A connection that sends nothing this long is closed (none holds a thread meanwhile).
IDLE_CONNECTION_SECONDS = 5
# Kept-alive connections waiting for their next request, beyond the THREADS served ones.
IDLE_CONNECTIONS = 1000

_END_OF_HEAD = b"\r\n\r\n"
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d{1,12})[ \t]*\r\n", re.IGNORECASE)
_EXPECT = re.compile(rb"\r\nexpect:", re.IGNORECASE)
_TRANSFER_ENCODING = re.compile(rb"\r\ntransfer-encoding:([^\r]*)\r\n", re.IGNORECASE)
# What a close takes from the receive buffer before it closes anyway.
_CLOSE_DRAIN_BYTES = 256 * 1024
# Chunk size lines and the end of a chunked body, on top of its data.
_CHUNKED_FRAMING_BYTES = 8 * 1024


def _json_error(sock: socket.socket, status: int, reason: str, code: str, message: str) -> None:
    """Write one error answer in the api's shape and its headers, then the caller closes."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    headers = {
        "Connection": "close",
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        **answer_headers(None),
    }
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    try:
        sock.settimeout(2.0)  # a client that does not read cannot hold the thread
        sock.sendall(head.encode("latin-1") + b"\r\n" + body)
    except OSError:
        pass


_HEADS_TOO_LARGE = (
    f"request headers are larger than this server accepts: at most {MAX_HEADER_FIELD_BYTES} "
    f"bytes a field, {MAX_HEADER_FIELDS} fields, {MAX_HEAD_BYTES} bytes in all"
)


def _refusal(exc: BaseException) -> tuple[int, str, str, str]:
    """(status, reason, code, message) for what gunicorn raised; never quoting the request."""
    if isinstance(exc, InvalidResponseHeader | InvalidResponseHeaderName | ConfigurationProblem):
        return 500, "Internal Server Error", "internal", "internal error"
    if isinstance(exc, LimitRequestHeaders):
        code = "request_header_fields_too_large"
        return 431, "Request Header Fields Too Large", code, _HEADS_TOO_LARGE
    if isinstance(exc, LimitRequestLine):
        return 414, "URI Too Long", "uri_too_long", "the request line is too long"
    if isinstance(exc, UnsupportedTransferCoding):
        return 501, "Not Implemented", "not_implemented", "only chunked transfer coding is served"
    if isinstance(exc, ExpectationFailed):
        return 417, "Expectation Failed", "expectation_failed", "only 100-continue is served"
    if isinstance(exc, ForbiddenProxyRequest):
        return 403, "Forbidden", "forbidden", "request forbidden"
    if isinstance(exc, ParseException | SSLError):
        return 400, "Bad Request", "malformed_request", "the request is not valid HTTP/1.1"
    return 500, "Internal Server Error", "internal", "internal error"


class ApiWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn is untyped
    """gunicorn's threaded worker, reading requests in without holding a thread."""

    # Set by `install` from HTTP_READ_TIMEOUT_SECONDS before gunicorn forks.
    read_timeout = 10.0

    def handle(self, conn: Any) -> Any:
        keep = self._handle(conn)
        if keep is False:
            # Closed here, in the worker thread. gunicorn would close it on its
            # event loop's thread, lingering up to 2 s for the client to stop
            # sending: a hundred slow senders refused at once stalled every
            # connection of the instance for minutes.
            _close_now(conn.sock)
        return keep

    def _handle(self, conn: Any) -> Any:
        if self.cfg.is_ssl:
            return super().handle(conn)  # TLS ends at Cloud Run's front end, never here
        try:
            state = self._buffer_request(conn)
        except OSError:
            return False  # the connection broke: nothing to answer
        if isinstance(state, ParseException):
            self.handle_error(None, conn.sock, conn.client, state)
            return False
        if state == "wait":
            return _DEFER  # back to the event loop until more arrives; no thread held
        if state == "closed":
            return False
        if state == "timeout":
            message = f"the request did not arrive within {self.read_timeout:g} s of its first byte"
            _json_error(conn.sock, 408, "Request Timeout", "request_timeout", message)
            return False
        # Complete: the parser reads the buffered bytes first, then the socket.
        buffered = bytes(conn.genjobs_buffer)
        conn.genjobs_buffer = bytearray()
        conn.genjobs_deadline = None
        conn.sock.setblocking(True)
        conn.init()
        conn.parser.unreader.unread(buffered)
        conn.data_ready = True
        return super().handle(conn)

    def handle_request(self, req: Any, conn: Any) -> Any:
        """Serve one request; a read or write that stalls `read_timeout` ends it.

        The head and a body of up to 64 kB are already buffered; what can
        still stall is a larger chunked body being read to the app's limit, or
        a client that stops reading its answer: either now fails after
        `read_timeout` instead of holding the thread for ever.
        """
        conn.sock.settimeout(self.read_timeout)
        return super().handle_request(req, conn)

    def _buffer_request(self, conn: Any) -> str | ParseException:
        """Read what has arrived without waiting; whether the request can be dispatched yet.

        "complete", "wait" (more to come), "closed" (the client left),
        "timeout" (HTTP_READ_TIMEOUT_SECONDS passed since the first byte), or
        the limit the head broke.
        """
        buffer: bytearray = getattr(conn, "genjobs_buffer", None) or bytearray()
        if conn.initialized:
            # A kept-alive connection: what the last request's parser read ahead comes first.
            buffer[:0] = conn.parser.unreader.take_buffered()
        conn.genjobs_buffer = buffer
        conn.sock.setblocking(False)
        while (state := _completeness(buffer)) == "partial":
            try:
                chunk = conn.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                break
            if not chunk:
                return "closed"
            buffer += chunk
            if getattr(conn, "genjobs_deadline", None) is None:
                conn.genjobs_deadline = time.monotonic() + self.read_timeout
        if state != "partial":
            return state
        deadline = getattr(conn, "genjobs_deadline", None)
        if deadline is not None and time.monotonic() > deadline:
            return "timeout"
        return "wait"

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """gunicorn's own refusals (a malformed request, a limit) in the api's JSON shape."""
        status, reason, code, message = _refusal(exc)
        if status >= 500:
            self.log.exception("Error handling request")
        else:
            self.log.warning("Invalid request refused with %s: %s", status, type(exc).__name__)
        _json_error(client, status, reason, code, message)


def _close_now(sock: socket.socket) -> None:
    """Close after the answer, taking (without waiting) what the client already sent.

    Unread bytes in the receive buffer would make the close a reset, which
    can cut off the answer before the client reads it; bytes still on their
    way are not waited for.
    """
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.setblocking(False)
        drained = 0
        while drained < _CLOSE_DRAIN_BYTES:
            chunk = sock.recv(65536)
            if not chunk:
                break
            drained += len(chunk)
    except OSError:  # nothing more to read now (BlockingIOError), or already closed
        pass
    finally:
        sock.close()


def _completeness(buffer: bytearray) -> str | ParseException:
    """`complete` once the head (and a body of up to 64 kB) is buffered, `partial` before.

    A head over the limits is refused as gunicorn's parser would refuse it.
    """
    end = buffer.find(_END_OF_HEAD)
    if end < 0 and len(buffer) <= MAX_HEAD_BYTES:
        return "partial"
    if end < 0 or end > MAX_HEAD_BYTES:
        if b"\r\n" not in buffer[:MAX_HEAD_BYTES]:
            return LimitRequestLine(MAX_HEAD_BYTES)
        return LimitRequestHeaders("request head over the limit")
    head = bytes(buffer[: end + 2])
    body = memoryview(buffer)[end + len(_END_OF_HEAD) :]
    if _EXPECT.search(head):
        return "complete"  # the client waits for 100 Continue before sending its body
    coding = _TRANSFER_ENCODING.search(head)
    if coding is not None:
        if coding.group(1).strip().lower() != b"chunked":
            return "complete"  # the parser refuses it (501)
        if len(body) > MAX_BODY_BYTES + _CHUNKED_FRAMING_BYTES:
            return "complete"  # the app reads up to its limit and answers 413
        return "complete" if _chunked_body_ends(bytes(body)) else "partial"
    length = _CONTENT_LENGTH.search(head)
    if length is None or int(length.group(1)) > MAX_BODY_BYTES:
        return "complete"  # no body, or one the app refuses (413) without reading it
    return "complete" if len(body) >= int(length.group(1)) else "partial"


def _chunked_body_ends(body: bytes) -> bool:
    """Whether `body` holds a whole chunked body; malformed framing counts (the parser says 400)."""
    position = 0
    while True:
        line_end = body.find(b"\r\n", position)
        if line_end < 0:
            return False
        size_text = body[position:line_end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return True
        if size == 0:  # the last chunk: then trailer lines, if any, and an empty line
            return body.find(b"\r\n\r\n", line_end) >= 0
        position = line_end + 2 + size + 2
        if position > len(body):
            return False


def server_options(threads: int) -> dict[str, Any]:
    """What `ApiServer` sets on top of functions-framework's gunicorn settings."""
    return {
        "worker_class": ApiWorker,
        # Connections one process holds. gunicorn's default (1000) counts the
        # `threads` busy ones too and keeps a connection alive only while fewer
        # than the difference are idle: with THREADS at 1000 no connection
        # would be kept alive, and a 1001st (an open event stream each) would
        # wait unaccepted. Idle kept-alive ones cost a socket, not a thread.
        "worker_connections": threads + IDLE_CONNECTIONS,
        "limit_request_field_size": MAX_HEADER_FIELD_BYTES,
        "limit_request_fields": MAX_HEADER_FIELDS,
        # How long a connection may stay silent: a new one before its first
        # byte (gunicorn alone waited 5 s for it, holding a thread), a kept-alive
        # one between requests (gunicorn's default is 2 s).
        "keepalive": IDLE_CONNECTION_SECONDS,
    }


def install(settings: Settings) -> None:
    """Have functions-framework serve the api with `ApiServer` (called while main.py is imported).

    functions-framework looks its gunicorn application class up by name when
    it builds the server, after importing the entry point; this points that
    name at ours. Without gunicorn (the Flask debug server), nothing to do.
    """
    try:
        from functions_framework._http import gunicorn as framework_gunicorn
    except ImportError:
        return
    ApiWorker.read_timeout = settings.http_read_timeout_seconds
    threads = settings.serving_threads
    base = framework_gunicorn.GunicornApplication
    if getattr(base, "genjobs_api_server", False):
        return

    class ApiServer(base):  # type: ignore[misc, valid-type]
        """functions-framework's gunicorn application with `server_options()` applied."""

        genjobs_api_server = True

        def __init__(self, app: Any, host: str, port: int, debug: bool, **options: Any) -> None:
            super().__init__(app, host, port, debug, **{**server_options(threads), **options})

    framework_gunicorn.GunicornApplication = ApiServer  # type: ignore[misc]


class StoppingWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn is untyped
    """gunicorn's threaded worker for the worker function: SIGTERM hands its runs over.

    Cloud Run sends SIGTERM and kills the instance about 10 s later. gunicorn
    then stops accepting and waits (its graceful timeout) for the requests in
    flight: a push held by a minute-long step would be cut off, and its run
    wait for its lease. `on_stop` (the engine's `hand_over`, set by
    `install_worker`) runs on its own thread, so the event loop keeps
    serving the answers it produces; gunicorn exits once every push has one.
    """

    on_stop: Callable[[], object] | None = None

    def handle_exit(self, sig: Any, frame: Any) -> None:
        on_stop = type(self).on_stop
        if self.alive and on_stop is not None:
            threading.Thread(target=on_stop, name="hand-over", daemon=True).start()
        super().handle_exit(sig, frame)


def install_worker(on_stop: Callable[[], object]) -> None:
    """Have functions-framework serve the worker with `StoppingWorker` (called from main.py).

    As `install` does for the api: functions-framework looks its gunicorn
    application up by name after importing the entry point. Without
    gunicorn (the Flask debug server), nothing to do.
    """
    try:
        from functions_framework._http import gunicorn as framework_gunicorn
    except ImportError:
        return
    StoppingWorker.on_stop = staticmethod(on_stop)
    base = framework_gunicorn.GunicornApplication
    if getattr(base, "genjobs_worker_server", False):
        return

    class WorkerServer(base):  # type: ignore[misc, valid-type]
        """functions-framework's gunicorn application with `StoppingWorker`."""

        genjobs_worker_server = True

        def __init__(self, app: Any, host: str, port: int, debug: bool, **options: Any) -> None:
            super().__init__(app, host, port, debug, **{"worker_class": StoppingWorker, **options})

    framework_gunicorn.GunicornApplication = WorkerServer  # type: ignore[misc]
