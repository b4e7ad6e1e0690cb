"""Answers too big to store, and commits Firestore refuses, on the Firestore emulator.

A schema-valid 5 MB brainstorm answer (ten thousand tags a seed) used to
make the checkpoint's commit fail outside the step: the model was called
again on every redelivery and the run failed as if its worker had died.
Now lists are cut to their caps, so it completes with one call; an output
too large for any checkpoint fails its step at once; and an error while
committing a step is recorded against that step with Firestore's message.
The model is the OpenAI-compatible double over HTTP; its requests are counted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import firestore
from pydantic import BaseModel

from devtools.openai_server import OpenAIServer, Reply
from shared.adapters.firestore_store import FirestoreRunStore
from shared.engine import (
    MAX_OUTPUT_BYTES,
    Engine,
    EngineSettings,
    Outcome,
    StepContext,
    Workflow,
    Write,
)
from shared.engine.testing import ListPublisher
from tests.helpers.engine_support import SUBJECT, Job
from tests.helpers.faults import FailingCommitStore, PoisonedCommitStore
from tests.helpers.llm_support import openai_model
from tests.helpers.stack import Stack

TAGS_PER_SEED = 10_000


def five_megabyte_answer(count: int) -> str:
    """Valid against the schema of before: `suggestedTags` had no maxItems."""

    def seed(i: int) -> dict[str, Any]:
        return {
            "title": f"Seed number {i}",
            "description": f"Seed {i}: " + "a mural about the river and the people who use it " * 2,
            "approvalLikelihood": 0.5,
            "titleFormal": f"Formal seed number {i}",
            "descriptionFormal": f"Seed {i}, formally: " + "a mural project on the river " * 3,
            "approvalLikelihoodFormal": 0.6,
            "suggestedTags": [f"tag {i}-{j} " + "x" * 90 for j in range(TAGS_PER_SEED)],
            "estimatedDuration": None,
            "estimatedParticipants": None,
        }

    return json.dumps({"seeds": [seed(i) for i in range(count)]})


def test_a_five_megabyte_answer_is_cut_to_its_caps_and_completes_with_one_call(stack: Stack):
    answer = five_megabyte_answer(5)
    assert len(answer) > 5_000_000
    stack.llm.responder = lambda request: Reply(content=answer)
    created = stack.create_brainstorm(seedCount=5)

    deliveries = stack.deliver_all()

    assert [d.status for d in deliveries] == [200]
    assert len(stack.llm.requests) == 1
    session = stack.get(f"/v1/brainstorm-sessions/{created['sessionId']}").get_json()
    assert session["status"] == "COMPLETED", session
    assert [len(s["suggestedTags"]) for s in session["seeds"]] == [10] * 5
    step = next(s for s in stack.run_view(created["runId"])["steps"] if s["id"] == "generate-seeds")
    assert step["attempts"] == 1
    assert f"suggested_tags: cut from {TAGS_PER_SEED} to 10 items (cap 10)" in step["repairs"]


def test_a_commit_firestore_refuses_fails_its_step_at_once_with_firestores_message(
    stack: Stack,
):
    over_a_field = Write(path="poison/value", data={"text": "z" * 1_100_000})
    stack.use_store(PoisonedCommitStore(stack.services.store, "generate-seeds", over_a_field))
    created = stack.create_brainstorm()

    deliveries = stack.deliver_all()

    assert [d.status for d in deliveries] == [200], "failed for good: no redelivery"
    assert len(stack.llm.requests) == 1
    view = stack.run_view(created["runId"])
    step = next(s for s in view["steps"] if s["id"] == "generate-seeds")
    assert step["status"] == "FAILED"
    assert step["attempts"] == 1
    assert step["error"].startswith("could not commit the step's checkpoint: Firestore refused")
    assert "longer than 1048487 bytes" in step["error"]
    assert view["status"] == "FAILED"
    assert view["error"] == f"generate-seeds: {step['error']}"
    assert step["usage"]["calls"] == 1, "the answer that was paid for is on the record"


def test_a_commit_error_is_the_steps_attempt_and_the_next_attempt_completes(stack: Stack):
    unavailable = gexc.ServiceUnavailable("Firestore is unavailable")
    stack.use_store(FailingCommitStore(stack.services.store, "generate-seeds", unavailable))
    created = stack.create_brainstorm()

    deliveries = stack.deliver_all()

    assert [d.status for d in deliveries] == [500, 200]
    view = stack.run_view(created["runId"])
    assert view["status"] == "COMPLETED"
    step = next(s for s in view["steps"] if s["id"] == "generate-seeds")
    assert step["attempts"] == 2
    assert step["error"] == (
        "could not commit the step's checkpoint: ServiceUnavailable: 503 Firestore is unavailable"
    )
    assert step["usage"]["calls"] == 2 == len(stack.llm.requests)


# -- an output too large for any checkpoint: the engine on the Firestore store --


class Essay(BaseModel):
    """An answer model with no cap on its text (the answer models all have one)."""

    text: str


@pytest.fixture
def essay_engine(
    emptied_firestore: firestore.Client, llm_server: OpenAIServer
) -> Iterator[tuple[Engine, FirestoreRunStore]]:
    """The engine on the Firestore emulator, with one run of a workflow of its own queued."""
    model = openai_model(llm_server)
    essay: Workflow[Job] = Workflow(
        id="test.essay", input_model=Job, description="one long answer", subject=SUBJECT
    )

    @essay.step("write-essay")
    def write_essay(ctx: StepContext[Job]) -> Essay:
        return model.generate(Essay, system="s", prompt="p", temperature=0, meter=ctx.meter).value

    store = FirestoreRunStore(emptied_firestore)
    engine = Engine(
        store,
        ListPublisher(),
        settings=EngineSettings(step_max_attempts=3),
        workflows={essay.id: essay}.get,
    )
    engine.start(
        essay,
        Job(),
        run_id="essay-run",
        tenant_id="org-a",
        user_id="user-1",
        subject="subjects/essay-run",
        writes=[Write(path="subjects/essay-run", data={"state": "IN_PROGRESS"})],
    )
    llm_server.requests.clear()
    yield engine, store
    llm_server.responder = None


def test_an_output_too_large_for_a_checkpoint_fails_at_once_after_one_call(
    essay_engine: tuple[Engine, FirestoreRunStore], llm_server: OpenAIServer
):
    engine, store = essay_engine
    llm_server.responder = lambda request: Reply(content=json.dumps({"text": "x" * 1_200_000}))

    outcome = engine.deliver("essay-run")

    assert outcome is Outcome.FAILED
    assert len(llm_server.requests) == 1
    loaded = store.load("essay-run")
    assert loaded is not None
    size = len(Essay(text="x" * 1_200_000).model_dump_json())
    reason = (
        f"step write-essay returned an output of {size:,} bytes, "
        f"more than the {MAX_OUTPUT_BYTES:,} bytes a checkpoint can hold"
    )
    assert loaded.record.error == f"write-essay: {reason}"
    step = loaded.record.steps["write-essay"]
    assert (step.attempts, step.error, step.output) == (1, reason, None)
    assert step.usage is not None
    assert step.usage.calls == 1
    assert store.read("subjects/essay-run") == {"state": "FAILED", "problem": loaded.record.error}
