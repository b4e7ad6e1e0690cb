"""The log fields the log-based metrics and alerts read (infra/monitoring.tf).

Every line of a run carries its workflow; a FAILED run's "run finished" line
carries the reason class alerts group by; "step completed" carries the
step's tokens, which the tokens-per-day metric sums.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shared import logs
from shared.engine import RunStatus
from shared.engine.testing import RETRY
from shared.errors import NonRetriableError, TransientError
from tests.helpers.engine_support import Harness, Recorder, linear_workflow


@pytest.fixture
def lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Every line the production formatter writes while the test runs, parsed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(previous)


def _raise(error: Exception) -> Any:
    def action(ctx: Any) -> None:
        raise error

    return action


def test_every_line_of_a_run_names_its_workflow(engine: Harness, recorder: Recorder, lines):
    engine.start(linear_workflow(recorder))

    assert engine.deliver() == "COMPLETED"

    run_lines = [line for line in lines() if line.get("runId") == "run-1"]
    assert run_lines
    assert {line.get("workflow") for line in run_lines} == {"test.linear"}


def test_a_run_failed_by_a_step_logs_the_reason_class(engine: Harness, recorder: Recorder, lines):
    recorder.on["compute"] = _raise(NonRetriableError("refused"))
    engine.start(linear_workflow(recorder))

    engine.deliver()

    assert engine.run().status is RunStatus.FAILED
    finished = [line for line in lines() if line["message"] == "run finished"]
    assert [(f["status"], f["reason"]) for f in finished] == [("FAILED", "non_retriable")]


def test_a_run_out_of_attempts_logs_attempts_exhausted(engine: Harness, recorder: Recorder, lines):
    recorder.on["compute"] = _raise(TransientError("provider down"))
    engine.start(linear_workflow(recorder))

    results = [engine.deliver() for _ in range(3)]

    assert results[:2] == [RETRY, RETRY]
    assert engine.run().status is RunStatus.FAILED
    finished = [line for line in lines() if line["message"] == "run finished"]
    assert [(f["status"], f["reason"]) for f in finished] == [("FAILED", "attempts_exhausted")]


def test_a_completed_step_logs_its_tokens(engine: Harness, recorder: Recorder, lines):
    def spend(ctx: Any) -> None:
        ctx.meter.add_usage("test-model", 120, 30, 150)

    recorder.on["compute"] = spend
    engine.start(linear_workflow(recorder))

    assert engine.deliver() == "COMPLETED"

    completed = {line["step"]: line for line in lines() if line["message"] == "step completed"}
    assert completed["compute"]["totalTokens"] == 150
    assert completed["save"]["totalTokens"] == 0
