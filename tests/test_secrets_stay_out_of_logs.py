"""A key in an error never reaches a log line or an HTTP answer; the error's message does.

On the real stack (api and worker through functions-framework, emulators,
the OpenAI client over HTTP): keys are generated at test time, put where
real ones turn up (a provider's error message echoing the request, a
library's exception quoting headers), and every log line of the process,
every worker answer and every API answer about the run is searched for them.
"""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from devtools.openai_server import Reply
from shared import logs
from shared.engine import RunPatch, RunStore, Write
from tests.helpers.stack import Stack


@dataclass
class Secrets:
    configured_key: str  # OPENAI_API_KEY of the stack, not shaped like a key
    openai_key: str
    bearer_token: str

    def all(self) -> tuple[str, ...]:
        return (self.configured_key, self.openai_key, self.bearer_token)


@pytest.fixture
def keys() -> Secrets:
    return Secrets(
        configured_key=os.environ["OPENAI_API_KEY"],
        openai_key="sk-proj-" + secrets.token_urlsafe(24),
        bearer_token=secrets.token_urlsafe(24),
    )


@pytest.fixture
def log_text() -> Iterator[Callable[[], str]]:
    """Everything the process logs, formatted as production formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream.getvalue
    root.removeHandler(handler)


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def _answers(stack: Stack, created: dict[str, Any]) -> str:
    """Every answer the frontend and Pub/Sub got about this run."""
    session = stack.get(f"/v1/brainstorm-sessions/{created['sessionId']}")
    run = stack.get(f"/v1/runs/{created['runId']}")
    listing = stack.get("/v1/runs")
    bodies = [session.get_data(as_text=True), run.get_data(as_text=True)]
    bodies += [listing.get_data(as_text=True), *(d.body for d in stack.deliveries)]
    return "\n".join(bodies)


def test_a_provider_error_echoing_keys_is_logged_and_recorded_without_them(
    stack: Stack, keys: Secrets, log_text: Callable[[], str]
) -> None:
    stack.llm.script(
        Reply(
            status=400,
            content=(
                f"Invalid request: organization mismatch for key {keys.configured_key} "
                f"(also tried {keys.openai_key}; header Authorization: Bearer {keys.bearer_token})"
            ),
        )
    )
    created = stack.create_brainstorm()

    stack.deliver_all()

    run = stack.run_view(created["runId"])
    assert run["status"] == "FAILED"
    assert "Invalid request: organization mismatch" in run["error"]
    logged = log_text()
    assert "Invalid request: organization mismatch" in logged
    answers = _answers(stack, created)
    for secret in keys.all():
        assert secret not in logged
        assert secret not in answers


@dataclass
class LeakyStore:
    """The real store, except that the first checkpoint commit fails with a library error
    that quotes credentials, as an HTTP client's exception quoting its request would."""

    inner: RunStore
    message: str
    failed: bool = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def update(
        self, run_id: str, version: object, patch: RunPatch, writes: Sequence[Write] = ()
    ) -> object:
        if not self.failed and any(r.output is not None for r in patch.steps.values()):
            self.failed = True
            raise ConnectionResetError(self.message)
        return self.inner.update(run_id, version, patch, writes)


def test_an_unexpected_error_is_logged_with_its_stack_trace_and_without_keys(
    stack: Stack, keys: Secrets, log_text: Callable[[], str]
) -> None:
    message = (
        f"connection reset while sending headers {{'Authorization': 'Bearer {keys.bearer_token}', "
        f"'x-api-key': '{keys.configured_key}'}} with key {keys.openai_key}"
    )
    stack.use_store(LeakyStore(stack.services.store, message))
    created = stack.create_brainstorm()

    deliveries = stack.deliver_all()

    assert [d.status for d in deliveries] == [500, 200]  # failed once, then completed
    assert stack.run_view(created["runId"])["status"] == "COMPLETED"
    reported = [line for line in _lines(log_text()) if "stack_trace" in line]
    assert reported, "the unexpected error was logged with its stack trace"
    line = reported[0]
    assert line["@type"] == logs.REPORTED_ERROR_EVENT
    assert line["errorType"] == "ConnectionResetError"
    assert "connection reset while sending headers" in line["message"]
    assert "Traceback (most recent call last):" in line["stack_trace"]
    assert "ConnectionResetError: connection reset while sending headers" in line["stack_trace"]
    logged = log_text()
    answers = _answers(stack, created)
    for secret in keys.all():
        assert secret not in logged
        assert secret not in answers
