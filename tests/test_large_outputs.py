"""A step output too large to keep inline in the run document is stored beside it and replayed."""

from __future__ import annotations

import json
import time

import pytest

from devtools.openai_server import Reply
from shared.adapters.firestore_store import INLINE_OUTPUT_LIMIT
from shared.engine import RunPatch, StepRecord, StepStatus
from tests.helpers.faults import CrashingStore, SimulatedCrash
from tests.helpers.stack import Stack

LEASE = 1.0


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {"LEASE_SECONDS": str(LEASE)}


def _long_seeds(count: int) -> str:
    def seed(i: int) -> dict:
        return {
            "title": f"Seed number {i}",
            "description": f"Seed {i}: " + "a long description " * 100,
            "approvalLikelihood": 0.5,
            "titleFormal": f"Formal seed number {i}",
            "descriptionFormal": f"Seed {i}, formally: " + "a formal description " * 90,
            "approvalLikelihoodFormal": 0.6,
            "suggestedTags": None,
            "estimatedDuration": None,
            "estimatedParticipants": None,
        }

    return json.dumps({"seeds": [seed(i) for i in range(count)]})


def test_a_large_output_survives_a_crash_and_is_replayed_from_beside_the_run(stack: Stack):
    content = _long_seeds(15)
    assert len(content) > INLINE_OUTPUT_LIMIT
    stack.llm.script(Reply(content=content))
    real = stack.services.store
    stack.use_store(CrashingStore(real, point="after-commit", step="generate-seeds"))
    created = stack.create_brainstorm(seedCount=15)
    [message] = stack.pull()
    with pytest.raises(SimulatedCrash):
        stack.push(message.data, dict(message.attributes))
    stack.use_store(real)

    record = stack.run_doc(created["runId"])["steps"]["generate-seeds"]
    assert record["output"] is None
    assert record["outputExternal"] is True
    time.sleep(LEASE + 0.2)
    stack.push(message.data, dict(message.attributes))

    session = stack.get(f"/v1/brainstorm-sessions/{created['sessionId']}").get_json()
    assert session["status"] == "COMPLETED"
    assert [s["title"] for s in session["seeds"]] == [f"Seed number {i}" for i in range(15)]
    assert len(stack.llm.requests) == 1


def test_only_outputs_flagged_external_are_read_from_beside_the_run(stack: Stack):
    store = stack.services.store
    created = stack.create_brainstorm()
    run_id = created["runId"]
    loaded = store.load(run_id)
    assert loaded is not None
    big = json.dumps({"text": "x" * (INLINE_OUTPUT_LIMIT + 1)})
    version = store.update(
        run_id,
        loaded.version,
        RunPatch(
            steps={
                step_id: StepRecord(status=StepStatus.COMPLETED, output=big)
                for step_id in ("load-session", "generate-seeds")
            }
        ),
    )
    # A later execution of the step (a resume, say) checkpoints a small output inline.
    store.update(
        run_id,
        version,
        RunPatch(
            steps={"generate-seeds": StepRecord(status=StepStatus.COMPLETED, output='{"a": 1}')}
        ),
    )

    reloaded = store.load(run_id)

    assert reloaded is not None
    assert reloaded.record.steps["generate-seeds"].output == '{"a": 1}'
    assert reloaded.record.steps["load-session"].output == big


def test_an_output_the_engine_placed_beside_the_run_is_stored_and_read_there(stack: Stack):
    store = stack.services.store
    created = stack.create_brainstorm()
    run_id = created["runId"]
    loaded = store.load(run_id)
    assert loaded is not None
    small = json.dumps({"text": "small"})
    record = StepRecord(status=StepStatus.COMPLETED, output=small, output_external=True)

    store.update(run_id, loaded.version, RunPatch(steps={"generate-seeds": record}))

    stored = stack.run_doc(run_id)["steps"]["generate-seeds"]
    assert (stored["output"], stored["outputExternal"]) == (None, True)
    reloaded = store.load(run_id)
    assert reloaded is not None
    assert reloaded.record.steps["generate-seeds"].output == small
