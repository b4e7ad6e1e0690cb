"""The local model double (`devtools/openai_server.py`) answers like a provider on the wire.

A module's tests may share one double (its address is fixed in an api
process's environment): `reset` makes it answer the next test as a new one.

Its answers go out as headers, then body: with Nagle's algorithm on, the
body of every call but the first on a kept-alive connection waits for the
client's delayed ACK (~40 ms), which inflated every figure with consecutive
model calls (44 ms a call instead of 3).
"""

from __future__ import annotations

import gc
import json
import socket
import struct
import threading
from typing import Any

import httpx
import pytest

from devtools.openai_server import OpenAIServer, Pace, Reply


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


def _complete(server: OpenAIServer) -> int:
    body = {"model": "test-model", "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=10).status_code


def test_a_reset_double_answers_as_a_new_one(llm_server: OpenAIServer):
    llm_server.script(Reply(status=500), Reply(status=500))
    llm_server.delay = 0.2
    llm_server.pace = Pace(items_per_second=1)
    llm_server.release.set()
    assert _complete(llm_server) == 500

    llm_server.reset()

    assert llm_server.requests == []
    assert llm_server.request_headers == []
    assert (llm_server.delay, llm_server.pace) == (0.0, Pace())
    assert not llm_server.release.is_set()
    assert llm_server.peak_in_flight == 0
    assert _complete(llm_server) == 200  # the second scripted 500 is forgotten
    assert len(llm_server.requests) == 1


def test_a_client_that_hangs_up_mid_request_prints_no_traceback(
    llm_server: OpenAIServer, capfd: pytest.CaptureFixture[str]
):
    httpd = llm_server._httpd
    assert httpd is not None
    handled = threading.Event()
    real_handle_error = httpd.handle_error

    def spied(request: Any, client_address: Any) -> None:
        real_handle_error(request, client_address)
        handled.set()

    httpd.handle_error = spied  # type: ignore[method-assign]
    host, port = llm_server.origin.removeprefix("http://").split(":")
    client = socket.create_connection((host, int(port)))
    client.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")  # and no more
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()  # a reset, as a cancelled client's

    assert handled.wait(10)
    assert "Traceback" not in capfd.readouterr().err
    assert _complete(llm_server) == 200
