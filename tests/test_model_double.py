"""The local model double (`devtools/openai_server.py`) answers like a provider on the wire.

Its answers go out as headers, then body: with Nagle's algorithm on, the
body of every call but the first on a kept-alive connection waits for the
client's delayed ACK (~40 ms), which inflated every figure with consecutive
model calls (44 ms a call instead of 3).
"""

from __future__ import annotations

import gc
import json
import socket

from devtools.openai_server import OpenAIServer


def _served_side(client: socket.socket) -> socket.socket:
    """The double's end of `client`'s connection (the double runs in this process)."""
    for candidate in gc.get_objects():
        if not isinstance(candidate, socket.socket) or candidate.fileno() < 0:
            continue
        try:
            if candidate.getpeername() == client.getsockname():
                return candidate
        except OSError:
            continue
    raise AssertionError("the double's end of the connection was not found")


def test_the_model_double_sends_with_nagle_off(llm_server: OpenAIServer):
    body = json.dumps({"model": "test-model", "messages": [{"role": "user", "content": "hi"}]})
    host, port = llm_server.origin.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as client:
        client.sendall(
            (
                f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}"
            ).encode()
        )
        assert client.recv(65536).startswith(b"HTTP/1.1 200")
        served = _served_side(client)

        assert served.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
