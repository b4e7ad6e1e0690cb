"""An OpenAI-compatible HTTP server for tests, the benchmark and local development.

The OpenAI client is never patched in this repository: it talks real HTTP to
this server instead, so what is tested is what runs in production (request
shape, status handling, timeouts). By default it answers every
`POST /v1/chat/completions` with content generated from the request's
`response_format` JSON schema, which makes it a drop-in model for the whole
pipeline; `script()` and `responder` let a test dictate exact answers
(errors, refusals, truncation, broken JSON, slowness). A request with
`stream: true` is answered as Chat Completions streams (`devtools.openai_stream`):
at the server's `pace` (or a reply's), recording when each item went out
(`emitted`), and broken mid-stream when a reply says so (`Break`).

    python -m devtools.openai_server --port 8090 --delay 0
    OPENAI_BASE_URL=http://127.0.0.1:8090/v1 OPENAI_API_KEY=local-dev make dev
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import itertools
import json
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any

from devtools.local_server import LocalServer, QuietHandler, send_json
from devtools.openai_stream import Break, Emitted, Pace, chunk, usage_chunk
from shared.llm.schema_example import example_for_schema

__all__ = ["Break", "Emitted", "OpenAIServer", "Pace", "Reply"]

_ERROR_TYPES: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    408: ("timeout", None),
    409: ("conflict", None),
    422: ("invalid_request_error", None),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


@dataclass
class Reply:
    """One scripted answer.

    `content` is the raw message content (any string, valid JSON or not);
    None means "generate it from the request's schema". For an error status,
    `content`, if given, becomes the error message. `body` replaces the whole
    HTTP body (to send something that is not JSON at all). `usage` is the
    answer's (prompt_tokens, completion_tokens); the total is their sum.
    `headers` are sent with the answer (a rate limit's `Retry-After`, say).
    """

    status: int = 200
    content: str | None = None
    refusal: str | None = None
    finish_reason: str = "stop"
    delay: float = 0.0
    body: str | None = None
    usage: tuple[int, int] = (10, 20)
    # Extra response headers, e.g. a 429's Retry-After or x-ratelimit-reset-requests.
    headers: dict[str, str] | None = None
    # A streamed answer (`stream: true`) only: its pace (None: the server's),
    # and how it breaks (None: it ends properly).
    pace: Pace | None = None
    breaks: Break | None = None
    # Streamed only: after this many items, wait until the server's `release`
    # is set (a test looks at what is visible mid-stream meanwhile); `held`
    # is set while it waits.
    hold_after_items: int | None = None


@dataclass(frozen=True)
class _Streamed:
    """A streamed answer, written by the handler piece by piece."""

    number: int
    content: str
    reply: Reply
    include_usage: bool


class OpenAIServer(LocalServer):
    """A local Chat Completions endpoint on 127.0.0.1 (a free port unless given).

    Thread-safe: requests are served concurrently, as the engine's fan-out
    sends them.
    """

    def __init__(
        self,
        delay: float = 0.0,
        model: str = "test-model",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.model = model
        self._initial_delay = delay
        self._lock = threading.Lock()
        # Set on stop: a stalled stream stops stalling.
        self.stopping = threading.Event()
        # Requests being answered right now (a live count: no reset forgets them).
        self.in_flight = 0
        self.reset()

    def reset(self) -> None:
        """Forget what earlier callers did: the double answers as a new one would.

        For a double shared by a module's tests: its address is in the
        environment of an api process that serves all of them, so it cannot
        be a new double per test, but its script, records and settings are.
        """
        with self._lock:
            self.delay = self._initial_delay
            self.requests: list[dict[str, Any]] = []
            # Headers of each request, in the same order (to check what credentials arrived).
            self.request_headers: list[dict[str, str]] = []
            self.responder: Callable[[dict[str, Any]], Reply] | None = None
            # When set, the models list refuses any other key with 401, as the provider does.
            self.accepted_keys: set[str] | None = None
            self._script: collections.deque[Reply] = collections.deque()
            self._counter = itertools.count(1)
            # The most requests there were at once since, and when each arrived
            # (monotonic seconds).
            self.peak_in_flight = self.in_flight
            self.arrivals: list[float] = []
            # How streamed answers are paced unless a reply says otherwise, and
            # when each streamed item went out.
            self.pace = Pace()
            self.emitted: list[Emitted] = []
            # A reply's `hold_after_items`: set while a stream waits, and what it waits for.
            self.held = threading.Event()
            self.release = threading.Event()

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _make_handler(self)

    def script(self, *replies: Reply) -> None:
        """Queue answers for the next requests, first in first out."""
        with self._lock:
            self._script.extend(replies)

    # --- request handling (called from handler threads) ---

    def _record(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Reply | None]:
        with self._lock:
            self.arrivals.append(time.monotonic())
            self.requests.append(body)
            self.request_headers.append(headers)
            number = next(self._counter)
            scripted = self._script.popleft() if self._script else None
        return number, scripted

    def stop(self) -> None:
        self.stopping.set()
        super().stop()

    def _answer(
        self, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, str, dict[str, str]] | _Streamed:
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            return self._answer_one(body, headers)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer_one(
        self, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, str, dict[str, str]] | _Streamed:
        number, reply = self._record(body, headers)
        if reply is None and self.responder is not None:
            try:
                reply = self.responder(body)
            except Exception as exc:
                reply = Reply(status=500, content=f"Test server responder failed: {exc!r}")
        if reply is None:
            reply = Reply(delay=self.delay)
        if reply.delay > 0:
            time.sleep(reply.delay)
        sent = dict(reply.headers or {})
        if reply.body is not None:
            return reply.status, reply.body, sent
        if reply.status >= 400:
            message = reply.content
            if message is None and reply.status == 401:
                # Like the real API, echo the key back, so that tests can
                # check that adapters never pass this message on.
                api_key = headers.get("authorization", "").removeprefix("Bearer ").strip()
                message = f"Incorrect API key provided: {api_key}"
            return reply.status, json.dumps(_error_body(reply.status, message)), sent
        if body.get("stream") is True:
            content = reply.content
            if content is None and reply.refusal is None:
                content = _generated_content(body, f"Generated answer {number}")
            options = body.get("stream_options")
            include_usage = isinstance(options, dict) and options.get("include_usage") is True
            return _Streamed(number, content or "", reply, include_usage)
        return reply.status, json.dumps(self._completion(number, body, reply)), sent

    def _completion(self, number: int, request: dict[str, Any], reply: Reply) -> dict[str, Any]:
        content = reply.content
        if content is None and reply.refusal is None:
            content = _generated_content(request, f"Generated answer {number}")
        return {
            "id": f"chatcmpl-test-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": content,
                        "refusal": reply.refusal,
                    },
                    "logprobs": None,
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": reply.usage[0],
                "completion_tokens": reply.usage[1],
                "total_tokens": sum(reply.usage),
            },
        }


def _generated_content(request: dict[str, Any], text: str) -> str:
    response_format = request.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        if isinstance(schema, dict):
            return json.dumps(example_for_schema(schema, text=text))
    if isinstance(response_format, dict) and response_format.get("type") == "json_object":
        return json.dumps({"answer": text})
    return text


def _error_body(status: int, message: str | None) -> dict[str, Any]:
    if status >= 500:
        kind, code = "server_error", None
    else:
        kind, code = _ERROR_TYPES.get(status, ("invalid_request_error", None))
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return {
        "error": {
            "message": message or f"Test server answered {status} {phrase}",
            "type": kind,
            "param": None,
            "code": code,
        }
    }


def _make_handler(server: OpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, json.dumps(_error_body(404, f"Unknown path {self.path}")))
                return
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                self._send(400, json.dumps(_error_body(400, "Request body is not JSON")))
                return
            if not isinstance(body, dict):
                self._send(400, json.dumps(_error_body(400, "Request body is not an object")))
                return
            headers = {name.lower(): value for name, value in self.headers.items()}
            answer = server._answer(body, headers)
            if isinstance(answer, _Streamed):
                try:
                    self._stream(answer)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                return
            status, payload, extra = answer
            self._send(status, payload, extra)

        def _stream(self, answer: _Streamed) -> None:
            """Write the answer as `text/event-stream` in HTTP chunks, paced, maybe broken."""
            reply = answer.reply
            completion_id = f"chatcmpl-test-{answer.number}"
            model = server.model
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            for name, value in (reply.headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            usage = answer.include_usage
            first = {"role": "assistant", "content": ""}
            self._chunk(chunk(completion_id, model, first, include_usage=usage))
            if reply.refusal is not None:
                delta = {"refusal": reply.refusal}
                self._chunk(chunk(completion_id, model, delta, include_usage=usage))
            pace = reply.pace or server.pace
            sent_items = 0
            breaks = reply.breaks
            if breaks is not None and breaks.after_items == 0:
                self._break(breaks)
                return
            # Each piece's time is set from the stream's start, so sleeps that
            # overshoot (a busy machine) do not add up into a slower pace.
            due = time.monotonic()
            for text, delay, closes in pace.delays(answer.content):
                due += delay
                wait = due - time.monotonic()
                if wait > 0 and server.stopping.wait(wait):
                    return
                delta = {"content": text}
                self._chunk(chunk(completion_id, model, delta, include_usage=usage))
                if closes is not None:
                    with server._lock:
                        server.emitted.append(Emitted(answer.number, closes, time.time()))
                    sent_items += 1
                    if reply.hold_after_items == sent_items:
                        server.held.set()
                        while not server.release.wait(0.05):
                            if server.stopping.is_set():
                                return
                    if breaks is not None and sent_items >= breaks.after_items:
                        self._break(breaks)
                        return
            end = chunk(completion_id, model, {}, reply.finish_reason, include_usage=usage)
            self._chunk(end)
            if usage:
                self._chunk(usage_chunk(completion_id, model, reply.usage))
            self._chunk(b"data: [DONE]\n\n")
            self._chunk(b"")

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

        def _break(self, breaks: Break) -> None:
            if breaks.mode == "malformed":
                self._chunk(b'data: {"id": "chatcmpl-broken", "choices": [{"delta": \n\n')
                self._chunk(b"")
                return
            if breaks.mode == "stall":
                server.stopping.wait(breaks.stall_seconds)
            # Dropped: the connection closes without the terminating chunk.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        def do_GET(self) -> None:
            key = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if server.accepted_keys is not None and key not in server.accepted_keys:
                # Like the real API, the message echoes the key.
                message = f"Incorrect API key provided: {key}"
                self._send(401, json.dumps(_error_body(401, message)))
                return
            if self.path.rstrip("/") == "/v1/models":
                models = {
                    "object": "list",
                    "data": [{"id": server.model, "object": "model", "owned_by": "test"}],
                }
                self._send(200, json.dumps(models))
                return
            self._send(404, json.dumps(_error_body(404, f"Unknown path {self.path}")))

        def _send(self, status: int, payload: str, extra: dict[str, str] | None = None) -> None:
            send_json(self, status, payload.encode(), extra)

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--model", default="test-model", help="model name put in answers")
    parser.add_argument(
        "--tokens-per-second", type=float, default=None, help="pace of streamed answers"
    )
    parser.add_argument(
        "--items-per-second", type=float, default=None, help="pace of streamed answers, by item"
    )
    args = parser.parse_args(argv)
    server = OpenAIServer(delay=args.delay, model=args.model, host=args.host, port=args.port)
    server.pace = Pace(args.tokens_per_second, args.items_per_second)
    stopping = threading.Event()
    # SIGTERM too, so that `make dev` stopping its children shuts this down cleanly.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: stopping.set())
    server.start()
    print(
        f"OpenAI-compatible server at {server.base_url} (model {args.model!r}); Ctrl-C stops it",
        flush=True,
    )
    try:
        stopping.wait()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
