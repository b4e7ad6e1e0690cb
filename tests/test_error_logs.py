"""Log lines a person can debug from: the message, a stack trace when unexpected, no secrets.

Every credential-shaped string and every remembered secret value is redacted
from log lines; an unexpected exception's line is an Error Reporting event.
"""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shared import logs
from shared.errors import NonRetriableError, describe
from shared.redaction import REDACTED, redact, remember


def fake_openai_key() -> str:
    return "sk-proj-" + secrets.token_urlsafe(24)


def fake_jwt() -> str:
    return "eyJ" + secrets.token_urlsafe(12) + ".eyJ" + secrets.token_urlsafe(20) + ".sig"


LOGGER = "test.errors"


@pytest.fixture
def read_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The lines the production formatter writes for the LOGGER logger, parsed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    logger.propagate = False
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)
    logger.propagate = True


# -- redaction -------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "Authorization: Bearer {secret}",
        "headers={{'Authorization': 'Basic {secret}'}}",
        '{{"authorization": "{secret}"}}',
        "token {bearer}",
        "api_key={secret}&model=x",
        '"x-api-key": "{secret}"',
        "Incorrect API key provided: {key}",
        "jwt {jwt} rejected",
    ],
)
def test_credential_shapes_are_redacted(template: str) -> None:
    secret = secrets.token_urlsafe(16)
    values = {
        "secret": secret,
        "bearer": f"Bearer {secret}",
        "key": fake_openai_key(),
        "jwt": fake_jwt(),
    }
    text = template.format(**values)

    redacted = redact(text)

    assert REDACTED in redacted
    for value in (secret, values["key"], values["jwt"]):
        assert value not in redacted


def test_a_remembered_secret_is_redacted_whatever_its_shape() -> None:
    configured = "plain" + secrets.token_hex(10)
    remember(configured)
    assert redact(f"provider said: key {configured} is revoked") == (
        f"provider said: key {REDACTED} is revoked"
    )


def test_short_values_are_not_remembered() -> None:
    remember("abc")
    assert redact("abc def") == "abc def"


def test_ordinary_text_is_left_alone() -> None:
    text = "sessions: sorted by start_time; Secret Manager version projects/p/secrets/k"
    assert redact(text) == text


def test_recorded_run_errors_are_redacted() -> None:
    key = fake_openai_key()
    error = RuntimeError(f"upstream refused key {key}")
    assert describe(error) == f"RuntimeError: upstream refused key {REDACTED}"


# -- log lines ---------------------------------------------------------------------


def test_an_unexpected_error_logs_message_and_stack_trace_for_error_reporting(
    read_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    key = fake_openai_key()
    log = logging.getLogger(LOGGER)
    try:
        raise ConnectionError(f"proxy rejected Authorization: Bearer {key} (HTTP 407)")
    except ConnectionError:
        log.exception("delivery failed outside a step")

    (line,) = read_lines()
    assert line["severity"] == "ERROR"
    assert line["message"].startswith("delivery failed outside a step: ConnectionError: proxy")
    assert line["errorType"] == "ConnectionError"
    assert "proxy rejected" in line["errorMessage"]
    assert line["@type"] == logs.REPORTED_ERROR_EVENT
    trace = line["stack_trace"]
    assert trace.startswith("Traceback (most recent call last):")
    assert "test_error_logs.py" in trace
    assert trace.rstrip().endswith(f"ConnectionError: proxy rejected Authorization: {REDACTED}")
    assert key not in json.dumps(line)


def test_a_chained_cause_is_in_the_stack_trace(
    read_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    log = logging.getLogger(LOGGER)
    try:
        try:
            {"present": 1}["missing"]
        except KeyError as cause:
            raise ValueError("could not read the run") from cause
    except ValueError:
        log.exception("sweep could not handle a run")

    (line,) = read_lines()
    assert "KeyError: 'missing'" in line["stack_trace"]
    assert "direct cause" in line["stack_trace"]


def test_our_own_errors_log_their_message_without_a_trace(
    read_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    log = logging.getLogger(LOGGER)
    error = NonRetriableError("The model refused: not allowed")
    log.warning("step attempt failed: %s", describe(error), exc_info=error)

    (line,) = read_lines()
    assert line["message"] == "step attempt failed: The model refused: not allowed"
    assert line["errorType"] == "NonRetriableError"
    assert "stack_trace" not in line
    assert "@type" not in line


def test_log_messages_and_arguments_are_redacted(
    read_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    key = fake_openai_key()
    logging.getLogger(LOGGER).warning("calling with %s", {"Authorization": f"Bearer {key}"})

    (line,) = read_lines()
    assert key not in line["message"]
    assert REDACTED in line["message"]
