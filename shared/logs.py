"""Cloud Logging structured logs: one JSON object per line with runId and step.

Cloud Logging reads `severity` and `message` from a JSON line on stdout;
every other key becomes a searchable jsonPayload field, so a run's whole
history is one filter away: `jsonPayload.runId="..."`.

A line about an exception carries its type and message (`errorType`,
`errorMessage`, and the message itself). An unexpected exception (not one of
ours, `shared.errors.GenjobsError`, whose messages are written for people)
also carries its stack trace in `stack_trace` and is marked as a
`ReportedErrorEvent`, the form Cloud Error Reporting picks up from Cloud
Logging and groups. Every text is redacted first (`shared.redaction`).

A line written inside a request or a run carries its trace
(`shared.tracing`) in the three fields Cloud Logging reads from a JSON
line: `logging.googleapis.com/trace` (`projects/<p>/traces/<trace id>`),
`logging.googleapis.com/spanId` and `logging.googleapis.com/trace_sampled`,
so the Logs Explorer shows a run's lines under its trace, and Cloud Trace
shows each span's lines.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import traceback
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any

from shared import tracing
from shared.errors import GenjobsError
from shared.redaction import redact

_run_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("run_id", default=None)
_step: contextvars.ContextVar[str | None] = contextvars.ContextVar("step", default=None)
_workflow: contextvars.ContextVar[str | None] = contextvars.ContextVar("workflow", default=None)

_SEVERITY = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}


# Marks a jsonPayload as an error event for Cloud Error Reporting.
REPORTED_ERROR_EVENT = (
    "type.googleapis.com/google.devtools.clouderrorreporting.v1beta1.ReportedErrorEvent"
)
_FIELDS = (
    "attempt",
    "durationMs",
    "outcome",
    "status",
    "reason",
    "totalTokens",
    # Model failover (shared.llm.failover, shared.llm.breaker).
    "model",
    "fallbackFrom",
    # A malformed Pub/Sub delivery (shared.worker): what was wrong, which topic.
    "problem",
    "topic",
    # Admission and trigger events (shared/admission.py, shared/triggers.py).
    "tenantId",
    "limit",
    "share",
    "eventId",
    "eventName",
)


TRACE_FIELD = "logging.googleapis.com/trace"
SPAN_FIELD = "logging.googleapis.com/spanId"
SAMPLED_FIELD = "logging.googleapis.com/trace_sampled"


class JsonFormatter(logging.Formatter):
    """`project`: the Google Cloud project the trace field names (GOOGLE_CLOUD_PROJECT)."""

    def __init__(self, project: str = "demo-genjobs") -> None:
        super().__init__()
        self.project = project

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": _SEVERITY.get(record.levelno, "DEFAULT"),
            "message": redact(record.getMessage()),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        run_id = getattr(record, "runId", None) or _run_id.get()
        step = getattr(record, "step", None) or _step.get()
        if run_id:
            entry["runId"] = run_id
        if step:
            entry["step"] = step
        workflow = getattr(record, "workflow", None) or _workflow.get()
        if workflow:
            entry["workflow"] = workflow
        trace = tracing.current()
        if trace is not None:
            entry[TRACE_FIELD] = f"projects/{self.project}/traces/{trace.trace_id}"
            entry[SPAN_FIELD] = trace.span_id
            entry[SAMPLED_FIELD] = trace.sampled
        for key in _FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = redact(value) if isinstance(value, str) else value
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            _describe_error(entry, error)
        return json.dumps(entry, default=str)


def _describe_error(entry: dict[str, Any], error: BaseException) -> None:
    text = redact(str(error).strip())
    entry["errorType"] = type(error).__name__
    entry["errorMessage"] = text
    if text and text not in entry["message"]:
        entry["message"] += f": {type(error).__name__}: {text}"
    if not isinstance(error, GenjobsError):
        # The traceback ends with the exception's type and message, and
        # includes chained causes: everything an operator needs, redacted.
        entry["@type"] = REPORTED_ERROR_EVENT
        entry["stack_trace"] = redact("".join(traceback.format_exception(error)))


def configure(level: str = "INFO", project: str = "demo-genjobs") -> None:
    """Route the root logger to stdout as JSON lines (idempotent)."""
    root = logging.getLogger()
    formatters = [h.formatter for h in root.handlers if isinstance(h.formatter, JsonFormatter)]
    if formatters:
        for formatter in formatters:
            formatter.project = project
        root.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(project))
    # Replace plain stream handlers (they would print each line twice) but
    # keep others, such as a test runner's capture handler.
    root.handlers = [h for h in root.handlers if type(h) is not logging.StreamHandler]
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("urllib3", "httpx", "httpx2", "httpcore", "openai", "google", "grpc"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@contextmanager
def _bound(var: contextvars.ContextVar[str | None], value: str) -> Iterator[None]:
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)


def run_context(run_id: str) -> AbstractContextManager[None]:
    return _bound(_run_id, run_id)


def workflow_context(workflow: str) -> AbstractContextManager[None]:
    """Every line of a run carries its workflow: the log-based metrics group by it."""
    return _bound(_workflow, workflow)


def step_context(step: str) -> AbstractContextManager[None]:
    return _bound(_step, step)
