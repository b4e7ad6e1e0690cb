"""Clients that send their requests a few bytes at a time, as a slow-loris attack does.

A `Trickler` holds many connections; each sends the request's `at_once`
part first, then, from one background thread, the next byte of the rest
every `interval` seconds, never finishing (the rest is longer than a test
lasts).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# (sent at once, trickled): the head a byte at a time; a whole head, then its body so.
SLOW_HEAD = (b"", b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"s" * 10_000)
SLOW_BODY = (
    b"POST /v1/brainstorm-sessions HTTP/1.1\r\nHost: localhost\r\n"
    b"Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n",
    b" " * 60_000,
)
SLOW_CHUNKED_BODY = (
    b"POST /v1/brainstorm-sessions HTTP/1.1\r\nHost: localhost\r\n"
    b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"".join(b"1\r\n \r\n" for _ in range(10_000)),
)


class Trickler:
    def __init__(
        self, port: int, request: tuple[bytes, bytes], connections: int, interval: float
    ) -> None:
        at_once, self.request = request
        self.sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(connections)]
        if at_once:
            for sock in self.sockets:
                sock.sendall(at_once)
        self.interval = interval
        self._sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set() and self._sent < len(self.request):
            byte = self.request[self._sent : self._sent + 1]
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.sendall(byte)
            self._sent += 1
            self._stop.wait(self.interval)

    def start(self) -> Trickler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in self.sockets:
            sock.close()


@contextmanager
def trickling(
    port: int, request: tuple[bytes, bytes], connections: int, interval: float
) -> Iterator[Trickler]:
    trickler = Trickler(port, request, connections, interval).start()
    try:
        yield trickler
    finally:
        trickler.stop()
