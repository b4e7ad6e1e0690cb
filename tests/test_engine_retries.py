"""Retries: an attempt that raises is recorded and redelivered; some failures end the run."""

from __future__ import annotations

from typing import Any

from shared.engine import ModelTokens, RunStatus, StepStatus, TokenUsage
from shared.engine.testing import RETRY
from shared.errors import NonRetriableError, TransientError
from tests.helpers.engine_support import Harness, Recorder, linear_workflow


def _raise(error: Exception) -> Any:
    def action(ctx: Any) -> None:
        raise error

    return action


def test_a_failed_attempt_is_recorded_retrying_and_the_run_handed_back(
    engine: Harness, recorder: Recorder
):
    recorder.on["compute"] = _raise(TransientError("rate limited"))
    engine.start(linear_workflow(recorder))

    assert engine.deliver() == RETRY

    run = engine.run()
    assert run.status is RunStatus.RUNNING
    assert run.steps["compute"].status is StepStatus.RETRYING
    assert run.steps["compute"].attempts == 1
    assert run.steps["compute"].error == "rate limited"
    assert run.lease_owner is None  # a redelivery may take it at once
    assert engine.store.read("results/run-1-compute") is None


def test_the_next_attempt_succeeds_and_keeps_the_last_error_readable(
    engine: Harness, recorder: Recorder
):
    def fail_first(ctx: Any) -> None:
        if ctx.attempt == 1:
            raise TransientError("rate limited")

    recorder.on["compute"] = fail_first
    engine.start(linear_workflow(recorder))

    assert engine.deliver() == RETRY
    assert engine.deliver() == "COMPLETED"

    record = engine.run().steps["compute"]
    assert (record.status, record.attempts, record.error) == (
        StepStatus.COMPLETED,
        2,
        "rate limited",
    )
    assert engine.store.read("results/run-1-compute") == {"attempt": 2}


def test_a_non_retriable_error_fails_the_run_and_its_subject_at_once(
    engine: Harness, recorder: Recorder
):
    recorder.on["compute"] = _raise(NonRetriableError("the model refused"))
    engine.start(linear_workflow(recorder))

    assert engine.deliver() == "FAILED"

    run = engine.run()
    assert run.status is RunStatus.FAILED
    assert run.error == "compute: the model refused"
    assert run.steps["compute"].status is StepStatus.FAILED
    assert engine.subject()["state"] == "FAILED"
    assert engine.subject()["problem"] == run.error
    assert recorder.calls["save"] == 0


def test_retriable_failures_give_up_after_the_maximum_attempts(engine: Harness, recorder: Recorder):
    recorder.on["compute"] = _raise(TransientError("HTTP 500"))
    engine.start(linear_workflow(recorder))

    outcomes = [engine.deliver() for _ in range(engine.settings.step_max_attempts)]

    assert outcomes == [RETRY, RETRY, "FAILED"]
    assert engine.run().error == "compute: gave up after 3 attempts: HTTP 500"
    assert recorder.calls["compute"] == 3


def test_an_unexpected_exception_is_retried_and_named_by_its_type(
    engine: Harness, recorder: Recorder
):
    recorder.on["compute"] = _raise(KeyError("seeds"))
    engine.start(linear_workflow(recorder))

    assert engine.deliver() == RETRY

    assert engine.run().steps["compute"].error == "KeyError: 'seeds'"


def test_usage_of_every_attempt_is_summed_on_the_step_record(engine: Harness, recorder: Recorder):
    def spend_then_fail_once(ctx: Any) -> None:
        ctx.meter.add_usage("m", 10, 5, 15)
        ctx.meter.add_repairs([f"attempt {ctx.attempt}"])
        if ctx.attempt == 1:
            raise TransientError("HTTP 503")

    recorder.on["compute"] = spend_then_fail_once
    engine.start(linear_workflow(recorder))

    engine.deliver()
    assert engine.run().steps["compute"].usage == TokenUsage.of_call("m", 10, 5, 15)
    engine.deliver()

    record = engine.run().steps["compute"]
    twice = ModelTokens(prompt_tokens=20, completion_tokens=10, total_tokens=30, calls=2)
    assert record.usage == TokenUsage(
        prompt_tokens=20,
        completion_tokens=10,
        total_tokens=30,
        calls=2,
        model="m",
        models={"m": twice},
    )
    assert record.repairs == ["attempt 2"]  # the successful attempt's
