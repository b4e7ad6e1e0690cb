"""The test kit (`shared.engine.testing`) runs the real workflows to their end, without Java.

Each test runs a workflow through the same `Engine` the worker uses, on the
in-memory store with a scripted model: what the steps wrote and what the
model was asked are read back from the kit, not from Firestore.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from devtools.samples import WIZARD_ANSWERS
from shared.engine import RunStatus, StepStatus
from shared.engine.testing import (
    SCRIPTED_MODEL_NAME,
    EngineHarness,
    ModelCall,
    ScriptedModel,
    run_workflow,
)
from shared.errors import NonRetriableError, TransientError
from shared.llm.offline_model import placeholder
from shared.models import paths
from shared.models.brainstorm import BrainstormInput
from shared.models.programme import ProgrammeInput
from shared.workflows.brainstorm import brainstorm
from shared.workflows.programme import programme_from_concept
from shared.workflows.project import project_from_idea
from tests.helpers.kit_support import generate_project

TENANT = "org-a"
USER = "user-1"
# The session documents below are as the api creates them (shared.creation).
CREATED = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _brainstorm(model: ScriptedModel | None = None, seeds: int = 5) -> Any:
    session = paths.brainstorm_session("session-1")
    return run_workflow(
        brainstorm,
        BrainstormInput(session_id="session-1"),
        model=model,
        tenant=TENANT,
        documents={
            session: {
                "id": "session-1",
                "prompt": "youth exchanges about climate",
                "creativityTemp": 0.0,
                "seedCount": seeds,
                "tenantId": TENANT,
                "userId": USER,
                "generationStatus": "IN_PROGRESS",
                "runId": "run-1",
                "createdAt": CREATED,
                "updatedAt": CREATED,
            }
        },
    )


def test_the_kit_runs_brainstorm_to_completed_with_its_seeds_written():
    finished = _brainstorm(seeds=5)

    assert finished.status is RunStatus.COMPLETED
    assert all(step.status is StepStatus.COMPLETED for step in finished.steps.values())
    seeds = [path for path in finished.writes if path.startswith(paths.seeds_of("session-1"))]
    assert len(seeds) == 5
    session = finished.writes[paths.brainstorm_session("session-1")]
    assert session["generationStatus"] == "COMPLETED"
    assert session["aiModel"] == SCRIPTED_MODEL_NAME
    assert finished.steps["generate-seeds"].model == SCRIPTED_MODEL_NAME


def test_the_kit_runs_project_from_idea_to_completed_with_the_project_written():
    harness = EngineHarness()

    finished = generate_project(harness)

    assert finished.status is RunStatus.COMPLETED
    assert list(finished.steps) == project_from_idea.declared_steps()
    project = finished.writes[paths.project("project-1")]
    assert project["tenantId"] == TENANT
    assert project["durationDays"] == WIZARD_ANSWERS["duration_days"]
    assert finished.writes[paths.project_session("session-p")]["generationStatus"] == "COMPLETED"


def test_the_kit_runs_programme_from_concept_to_completed_with_every_day_written():
    harness = EngineHarness()
    generate_project(harness)  # the programme is generated from the project the first run wrote
    programme = paths.programme("project-1-v1")
    harness.start(
        programme_from_concept,
        ProgrammeInput(programme_id="project-1-v1", project_id="project-1"),
        run_id="run-programme",
        tenant=TENANT,
        documents={programme: {"id": "project-1-v1", "tenantId": TENANT, "version": 1}},
    )

    finished = harness.run_to_end("run-programme")

    assert finished.status is RunStatus.COMPLETED
    days = WIZARD_ANSWERS["duration_days"]
    day_steps = [s for s in finished.steps if s.startswith("generate-day-")]
    assert len(day_steps) == days
    assert {path for path in finished.writes if path.startswith(paths.days_of("project-1-v1"))} == {
        paths.day("project-1-v1", n) for n in range(1, days + 1)
    }
    assert finished.writes[programme]["generationStatus"] == "COMPLETED"


def test_a_scripted_answer_is_what_the_step_gets_and_the_call_is_recorded():
    def seeds(call: ModelCall) -> BaseModel:
        batch = placeholder(call.schema)
        first: Any = batch.model_dump()["seeds"][0]
        first["title"] = "Murals for the climate"
        return call.schema.model_validate({"seeds": [first, *batch.model_dump()["seeds"][1:]]})

    model = ScriptedModel(seeds)

    finished = _brainstorm(model)

    assert finished.writes[paths.seed("session-1", 1)]["title"] == "Murals for the climate"
    [call] = model.calls
    assert call.temperature == 0.0
    assert "youth exchanges about climate" in call.prompt


def test_a_scripted_transient_error_is_retried_and_the_run_still_completes():
    model = ScriptedModel(TransientError("the provider answered 503"))

    finished = _brainstorm(model)

    assert finished.status is RunStatus.COMPLETED
    step = finished.steps["generate-seeds"]
    assert (step.attempts, step.error) == (2, "the provider answered 503")
    assert len(model.calls) == 2


def test_an_answer_scripted_for_one_schema_goes_to_that_schemas_call_only():
    model = ScriptedModel().when("ProjectDNA", NonRetriableError("the model refused"))

    finished = generate_project(EngineHarness(model=model))

    assert finished.status is RunStatus.FAILED
    assert finished.steps["extract-dna"].error == "the model refused"
    assert [call.schema.__name__ for call in model.calls] == ["ProjectDNA"]
