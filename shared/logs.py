"""Cloud Logging structured logs: one JSON object per line with runId and step.

Cloud Logging reads `severity` and `message` from a JSON line on stdout;
every other key becomes a searchable jsonPayload field, so a run's whole
history is one filter away: `jsonPayload.runId="..."`.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

_run_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("run_id", default=None)
_step: contextvars.ContextVar[str | None] = contextvars.ContextVar("step", default=None)

_SEVERITY = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": _SEVERITY.get(record.levelno, "DEFAULT"),
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        run_id = getattr(record, "runId", None) or _run_id.get()
        step = getattr(record, "step", None) or _step.get()
        if run_id:
            entry["runId"] = run_id
        if step:
            entry["step"] = step
        for key in ("workflow", "attempt", "durationMs", "outcome", "status", "count"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            # Exception type only: messages of third-party errors can carry
            # request details, and a stack trace is noise in a run timeline.
            entry["exception"] = record.exc_info[0].__name__
        return json.dumps(entry, default=str)


def configure(level: str = "INFO") -> None:
    """Route the root logger to stdout as JSON lines (idempotent)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        root.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    # Replace plain stream handlers (they would print each line twice) but
    # keep others, such as a test runner's capture handler.
    root.handlers = [h for h in root.handlers if type(h) is not logging.StreamHandler]
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("urllib3", "httpx", "httpx2", "httpcore", "openai", "google", "grpc"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@contextmanager
def run_context(run_id: str) -> Iterator[None]:
    token = _run_id.set(run_id)
    try:
        yield
    finally:
        _run_id.reset(token)


@contextmanager
def step_context(step: str) -> Iterator[None]:
    token = _step.set(step)
    try:
        yield
    finally:
        _step.reset(token)
