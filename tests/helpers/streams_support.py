"""Event streams held open against a served api, as many clients would hold them.

`open_stream` returns once the answer's head and first event (or its error
body) arrived, or once `timeout` passed without them (then `status` is
None: the request is still waiting for the server).
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from typing import Any


@dataclass
class HeldStream:
    sock: socket.socket
    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    run_id: str = ""

    def error(self) -> dict[str, Any]:
        payload: dict[str, Any] = json.loads(self.body)["error"]
        return payload

    def close(self) -> None:
        """Hang up as a killed client does (FIN, no further reads)."""
        self.sock.close()


def open_stream(port: int, run_id: str, authorization: str, timeout: float = 5.0) -> HeldStream:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.sendall(
        f"GET /v1/runs/{run_id}/events HTTP/1.1\r\nHost: localhost\r\n"
        f"Authorization: {authorization}\r\n\r\n".encode()
    )
    received = b""
    try:
        while not _answered(received):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    except TimeoutError:
        return HeldStream(sock, None, run_id=run_id)
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return HeldStream(sock, int(lines[0].split(" ", 2)[1]), headers, body, run_id)


def _answered(received: bytes) -> bool:
    """A head, then either a complete JSON error or a stream's first event."""
    head, separator, body = received.partition(b"\r\n\r\n")
    if not separator:
        return False
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    start = body.find(b"event: run")
    return start >= 0 and b"\n\n" in body[start:]
