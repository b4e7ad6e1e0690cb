"""Helpers for the LLM adapter tests: a Secret Manager double over real HTTP, test keys, models.

The Secret Manager client is exercised for real (its REST transport) against
this server, the same way the OpenAI client is exercised against
`devtools.openai_server`.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud.secretmanager import SecretManagerServiceClient
from pydantic import BaseModel, Field

from devtools.local_server import LocalServer, QuietHandler, send_json
from devtools.openai_server import OpenAIServer
from shared.llm.breaker import Observed
from shared.llm.openai_model import OpenAILanguageModel

_ACCESS_PATH = re.compile(r"^/v1/(?P<name>projects/[^/]+/secrets/[^/]+/versions/[^/:]+):access$")


def make_test_key() -> str:
    """A fresh, obviously fake API key, so no key-like string lives in the repository."""
    return "test-" + secrets.token_hex(8)


class SecretManagerDouble(LocalServer):
    """Serves `GET /v1/{version name}:access` the way Secret Manager's REST API does.

    `secrets` maps version names to payloads; unknown names answer 404,
    `status_override` forces an error status (503 to simulate an outage).
    `requests` lists the version names asked for, in order.
    """

    def __init__(self, secret_values: dict[str, str] | None = None) -> None:
        super().__init__()
        self.secrets: dict[str, str] = dict(secret_values or {})
        self.requests: list[str] = []
        self.status_override: int | None = None
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return self.origin

    def client(self) -> SecretManagerServiceClient:
        """A real Secret Manager client (REST transport) pointed at this double."""
        return SecretManagerServiceClient(
            transport="rest",
            client_options=ClientOptions(api_endpoint=self.endpoint),
            credentials=AnonymousCredentials(),
        )

    def handler(self) -> type[BaseHTTPRequestHandler]:
        double = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                match = _ACCESS_PATH.match(path)
                name = match.group("name") if match else path
                with double._lock:
                    double.requests.append(name)
                if double.status_override is not None:
                    self._error(double.status_override, "UNAVAILABLE", "Service unavailable")
                elif match is None or name not in double.secrets:
                    self._error(404, "NOT_FOUND", f"Secret [{name}] not found or has no versions.")
                else:
                    data = base64.b64encode(double.secrets[name].encode()).decode()
                    self._json(200, {"name": name, "payload": {"data": data}})

            def _error(self, status: int, code: str, message: str) -> None:
                self._json(status, {"error": {"code": status, "message": message, "status": code}})

            def _json(self, status: int, body: dict[str, Any]) -> None:
                send_json(self, status, json.dumps(body).encode())

        return Handler


class Idea(BaseModel):
    """A small LLM output model with the kinds of bounds the real ones have."""

    title: str = Field(min_length=5, max_length=200)
    score: float = Field(ge=0, le=1)


def openai_model(
    server: OpenAIServer,
    *,
    model: str = "gpt-test",
    api_key: str | None = None,
    timeout_seconds: float = 5.0,
    schema_retries: int = 2,
    stream: bool = False,
) -> OpenAILanguageModel:
    """An `OpenAILanguageModel` talking to `server` with a freshly generated test key."""
    return OpenAILanguageModel(
        api_key=api_key or make_test_key(),
        base_url=server.base_url,
        model=model,
        timeout_seconds=timeout_seconds,
        schema_retries=schema_retries,
        stream=stream,
    )


class Ideas(BaseModel):
    """A streamed answer's shape: one top-level array whose elements are the items."""

    ideas: list[Idea]


class RecordingSink:
    """A step meter as a streaming model sees it: usage, repairs and the items, recorded."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.streams = 0
        self.final: list[Any] | None = None
        self.usage: list[tuple[str, int, int, int]] = []

    def add_usage(self, model: str, prompt: int, completion: int, total: int) -> None:
        self.usage.append((model, prompt, completion, total))

    def add_repairs(self, repairs: Any) -> None:
        return None

    def add_answer(self, model: str | None, failed: Any) -> None:
        return None

    def add_call(self, call: Any) -> None:
        return None

    def stream_started(self) -> None:
        self.streams += 1

    def add_item(self, item: Any) -> None:
        self.items.append(item)

    def stream_finished(self, items: list[Any]) -> None:
        self.final = list(items)


class BrokenStore:
    """A store that is down (Firestore unavailable)."""

    def exchange(
        self,
        provider: str,
        *,
        counter: str | None,
        open_until: float,
        closed_after: float,
        expires_at: float,
    ) -> Observed:
        raise ConnectionError("Firestore unavailable")


class MemoryCounter:
    """The LLM budget's counters in memory (`BudgetCounter`): what each key was asked to add."""

    def __init__(self) -> None:
        self.counts: dict[str, list[int]] = {}
        self._lock = threading.Lock()

    def add(self, key: str, requests: int, tokens: int, expires_at: float) -> tuple[int, int]:
        with self._lock:
            count = self.counts.setdefault(key, [0, 0])
            count[0] += requests
            count[1] += tokens
            return count[0], count[1]
