"""A loopback HTTP server run from a background thread: the base of the test doubles.

The OpenAI-compatible server, the Secret Manager double and the JWKS server
differ only in what they answer; starting, stopping and writing a JSON reply
are the same, and live here once.
"""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


def send_json(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    headers: dict[str, str] | None = None,
) -> None:
    """Write a JSON reply; a client that already gave up (a timeout test) is not an error."""
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        handler.close_connection = True


class QuietHandler(BaseHTTPRequestHandler):
    # Headers and body go out in two writes: with Nagle's algorithm on, the
    # body waits for the client's delayed ACK of the headers (~40 ms), which
    # stalls every call but the first on a kept-alive connection.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        # Test output should show failures, not traffic.
        return


class _Server(ThreadingHTTPServer):
    # The standard library's listen backlog is 5: a burst of concurrent
    # clients (a worker running dozens of runs at once) would see refused
    # connections that a real provider never causes.
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (a cancelled stream, a stopped worker) is not an error.

        The standard library prints a traceback for it on stderr, which read
        like failures in test and benchmark output; anything else still is one.
        """
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class LocalServer:
    """Start/stop and context management around a handler class chosen by the subclass."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    @property
    def origin(self) -> str:
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        httpd = _Server((self._host, self._port), self.handler())
        # Handler threads may be sleeping out a scripted delay after the
        # client gave up; they must not keep stop() or the process waiting.
        httpd.daemon_threads = True
        self._httpd = httpd
        # A short poll interval keeps stop() (and so each test's teardown) fast.
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=type(self).__name__,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
