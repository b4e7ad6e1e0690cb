"""A step whose checkpoint cannot be stored fails as that step, with the real reason.

An output too large for any checkpoint (or a commit too large for Firestore)
is known before the commit and fails the step at once, without another
attempt; an error from the store while committing a step is that step's
attempt, recorded against it with the store's message. On the in-memory
store with a fake clock; tests/test_oversized_answers.py does the same on
the Firestore emulator.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from shared.engine import (
    MAX_COMMIT_BYTES,
    MAX_OUTPUT_BYTES,
    RUN_OUTPUTS_BUDGET,
    Engine,
    Outcome,
    RunStatus,
    StepContext,
    StepStatus,
    Workflow,
)
from shared.engine.testing import RETRY
from shared.errors import CommitRejected, RetryLater
from tests.helpers.engine_support import (
    SUBJECT,
    Harness,
    Job,
    Recorder,
    Value,
    fan_out_workflow,
    linear_workflow,
)
from tests.helpers.faults import FailingCommitStore

FAILED, COMPLETED = Outcome.FAILED.value, Outcome.COMPLETED.value


class Blob(BaseModel):
    text: str


def blob_workflow(recorder: Recorder, size: int) -> Workflow[Job]:
    """One step that returns `size` characters of output."""
    wf: Workflow[Job] = Workflow(
        id="test.blob", input_model=Job, description="a big output", subject=SUBJECT
    )

    @wf.step("produce")
    def produce(ctx: StepContext[Job]) -> Blob:
        recorder.hit("produce", ctx)
        ctx.put(f"results/{ctx.run_id}", {"produced": True})
        return Blob(text="x" * size)

    return wf


def writes_workflow(recorder: Recorder, documents: int, size: int) -> Workflow[Job]:
    """One step with a small output that writes `documents` documents of `size` characters."""
    wf: Workflow[Job] = Workflow(
        id="test.writes", input_model=Job, description="big writes", subject=SUBJECT
    )

    @wf.step("write")
    def write(ctx: StepContext[Job]) -> Value:
        recorder.hit("write", ctx)
        for n in range(documents):
            ctx.put(f"results/{ctx.run_id}-{n}", {"text": "y" * size})
        return Value(n=documents)

    return wf


def deliver_through(harness: Harness, store: Any) -> str:
    """One delivery by an engine on `store` (a fault wrapped around the harness's own)."""
    faulty = Engine(
        store,
        harness.publisher,
        settings=harness.settings,
        clock=harness.clock,
        workflows=harness.workflows.get,
    )
    try:
        return faulty.deliver("run-1").value
    except RetryLater:
        return RETRY


def test_an_output_too_large_for_a_checkpoint_fails_its_step_at_once(
    engine: Harness, recorder: Recorder
) -> None:
    engine.start(blob_workflow(recorder, MAX_OUTPUT_BYTES))  # + the JSON around it

    assert engine.deliver() == FAILED

    run = engine.run()
    size = len(Blob(text="x" * MAX_OUTPUT_BYTES).model_dump_json())
    reason = (
        f"step produce returned an output of {size:,} bytes, "
        f"more than the {MAX_OUTPUT_BYTES:,} bytes a checkpoint can hold"
    )
    assert run.status is RunStatus.FAILED
    assert run.error == f"produce: {reason}"
    step = run.steps["produce"]
    assert (step.status, step.attempts, step.error, step.output) == (
        StepStatus.FAILED,
        1,
        reason,
        None,
    )
    assert recorder.calls["produce"] == 1
    assert engine.store.read("results/run-1") is None, "nothing of the step was written"


def test_a_commit_larger_than_firestore_carries_fails_its_step_at_once(
    engine: Harness, recorder: Recorder
) -> None:
    documents, size = 11, 1_000_000
    engine.start(writes_workflow(recorder, documents, size))

    assert engine.deliver() == FAILED

    run = engine.run()
    assert run.error is not None
    assert run.error.startswith("write: step write would commit 11,0")
    assert f"more than the {MAX_COMMIT_BYTES:,} bytes one commit can carry" in run.error
    assert run.steps["write"].attempts == 1
    assert recorder.calls["write"] == 1
    assert engine.store.read("results/run-1-0") is None


def test_a_failed_commit_is_recorded_against_its_step_as_its_attempt(
    engine: Harness, recorder: Recorder
) -> None:
    engine.start(linear_workflow(recorder))
    failing = FailingCommitStore(engine.store, "compute", RuntimeError("Firestore unavailable"))

    assert deliver_through(engine, failing) == RETRY

    step = engine.run().steps["compute"]
    message = "could not commit the step's checkpoint: RuntimeError: Firestore unavailable"
    assert (step.status, step.attempts, step.error) == (StepStatus.RETRYING, 1, message)
    assert engine.run().lease_owner is None, "handed back for the redelivery"


def test_after_a_failed_commit_the_next_attempt_completes_the_step(
    engine: Harness, recorder: Recorder
) -> None:
    engine.start(linear_workflow(recorder))
    failing = FailingCommitStore(engine.store, "compute", RuntimeError("Firestore unavailable"))
    deliver_through(engine, failing)

    assert engine.deliver() == COMPLETED

    step = engine.run().steps["compute"]
    assert (step.status, step.attempts) == (StepStatus.COMPLETED, 2)
    assert recorder.calls["compute"] == 2
    assert engine.subject()["state"] == "COMPLETED"


def test_a_commit_that_always_fails_ends_the_run_with_the_stores_message(
    engine: Harness, recorder: Recorder
) -> None:
    engine.start(linear_workflow(recorder))
    failing = FailingCommitStore(
        engine.store, "compute", RuntimeError("Firestore unavailable"), times=99
    )

    outcomes = [deliver_through(engine, failing) for _ in range(engine.settings.step_max_attempts)]

    assert outcomes == [RETRY, RETRY, FAILED]
    run = engine.run()
    assert run.error == (
        "compute: gave up after 3 attempts: could not commit the step's checkpoint: "
        "RuntimeError: Firestore unavailable"
    )
    assert "without reporting an error" not in run.error
    assert run.steps["compute"].attempts == 3


def test_a_commit_the_store_refuses_for_good_fails_the_run_at_once(
    engine: Harness, recorder: Recorder
) -> None:
    engine.start(linear_workflow(recorder))
    refused = CommitRejected('Firestore refused the commit: property "x" is too long')
    failing = FailingCommitStore(engine.store, "compute", refused, times=99)

    assert deliver_through(engine, failing) == FAILED

    run = engine.run()
    assert run.error == (
        "compute: could not commit the step's checkpoint: "
        'Firestore refused the commit: property "x" is too long'
    )
    assert recorder.calls["compute"] == 1


def test_a_commit_that_landed_despite_its_error_is_not_run_again(
    engine: Harness, recorder: Recorder
) -> None:
    engine.start(linear_workflow(recorder))
    lost = FailingCommitStore(engine.store, "compute", TimeoutError("deadline"), landed=True)

    assert deliver_through(engine, lost) == COMPLETED

    run = engine.run()
    assert run.steps["compute"].status is StepStatus.COMPLETED
    assert run.steps["compute"].error is None
    assert recorder.calls["compute"] == 1


def test_one_fan_out_items_failed_commit_leaves_the_other_items_committed(
    engine: Harness, recorder: Recorder
) -> None:
    engine.start(fan_out_workflow(recorder, days=3))
    failing = FailingCommitStore(engine.store, "day-2", RuntimeError("Firestore unavailable"))

    assert deliver_through(engine, failing) == RETRY

    steps: dict[str, Any] = engine.run().steps
    assert steps["day-1"].status is StepStatus.COMPLETED
    assert steps["day-3"].status is StepStatus.COMPLETED
    assert steps["day-2"].status is StepStatus.RETRYING
    assert "Firestore unavailable" in (steps["day-2"].error or "")
    assert engine.deliver() == COMPLETED
    assert recorder.calls["day-1"] == recorder.calls["day-3"] == 1


def many_blobs_workflow(recorder: Recorder, items: int, size: int) -> Workflow[Job]:
    """A fan-out of `items` steps, each returning `size` characters."""
    wf: Workflow[Job] = Workflow(
        id="test.blobs", input_model=Job, description="many outputs", subject=SUBJECT
    )

    def every(ctx: StepContext[Any]) -> list[int]:
        return list(range(1, items + 1))

    @wf.fan_out("blob", over=every)
    def blob(ctx: StepContext[Job], n: int) -> Blob:
        recorder.hit(f"blob-{n}", ctx)
        return Blob(text=str(n) * size)

    return wf


def test_outputs_go_beside_the_run_once_its_records_fill_their_budget(
    engine: Harness, recorder: Recorder
) -> None:
    engine.start(many_blobs_workflow(recorder, items=20, size=30_000))

    assert engine.run_to_end().run.status is RunStatus.COMPLETED

    records = engine.run().steps.values()
    inline = [r for r in records if r.output is not None and not r.output_external]
    beside = [r for r in records if r.output_external]
    assert len(inline) + len(beside) == 20
    assert inline, "small outputs stay in the run document"
    assert beside, "the rest go beside it"
    assert sum(r.inline_bytes() for r in records) <= RUN_OUTPUTS_BUDGET
