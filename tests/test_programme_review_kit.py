"""The programme review on the in-memory store (the engine's test kit), in milliseconds.

The same flow through the api and the worker on the emulators is
tests/test_programme_review.py; here the real workflow runs on the kit with
a scripted model, so the model calls are counted exactly.
"""

from __future__ import annotations

import pytest

from devtools.samples import WIZARD_ANSWERS
from shared.engine import RunStatus
from shared.engine.testing import EngineHarness, ScriptedModel
from shared.errors import Conflict, InvalidInput, NotFound
from shared.models import paths
from shared.models.programme import ProgrammeInput, ReviewDecision
from shared.workflows.programme import programme_from_concept
from tests.helpers.kit_support import generate_project

TENANT = "org-a"
DAYS = WIZARD_ANSWERS["duration_days"]
PROGRAMME = paths.programme("project-1-v1")
REVIEW_TIMEOUT = 3600


@pytest.fixture
def harness() -> EngineHarness:
    """A project generated, then its programme created with review and run to its wait."""
    harness = EngineHarness(model=ScriptedModel())
    generate_project(harness)
    harness.start(
        programme_from_concept,
        ProgrammeInput(
            programme_id="project-1-v1",
            project_id="project-1",
            review=True,
            review_timeout_seconds=REVIEW_TIMEOUT,
        ),
        run_id="run-1",
        tenant=TENANT,
        documents={PROGRAMME: {"id": "project-1-v1", "tenantId": TENANT, "version": 1}},
    )
    assert isinstance(harness.model, ScriptedModel)
    harness.model.calls.clear()
    harness.run_to_wait()
    return harness


def _calls(harness: EngineHarness) -> list[str]:
    assert isinstance(harness.model, ScriptedModel)
    return [c.schema.__name__ for c in harness.model.calls]


def test_the_run_waits_after_the_structure_with_it_on_the_programme(harness: EngineHarness):
    programme = harness.document(PROGRAMME)

    assert programme["generationStatus"] == "AWAITING_REVIEW"
    assert len(programme["structure"]["days"]) == DAYS
    assert _calls(harness) == [f"DailyStructure{DAYS}Days"]


def test_approving_an_edited_structure_generates_the_days_from_it(harness: EngineHarness):
    structure = harness.document(PROGRAMME)["structure"]
    structure["days"][1]["theme"] = "Murals with the neighbours"

    harness.signal("review", {"decision": "approve", "structure": structure})
    finished = harness.run_to_end()

    assert finished.status is RunStatus.COMPLETED
    assert harness.document(paths.day("project-1-v1", 2))["theme"] == "Murals with the neighbours"
    assert _calls(harness).count("DaySessions") == DAYS
    assert isinstance(harness.model, ScriptedModel)
    asked = [c.prompt for c in harness.model.calls_for("DaySessions")]
    assert sum("Murals with the neighbours" in p for p in asked) == 1


def test_rejecting_cancels_with_no_model_call_after_the_structure(harness: EngineHarness):
    harness.signal("review", {"decision": "reject"})

    assert harness.run().status is RunStatus.CANCELLED
    assert harness.deliver() == "ALREADY_FINISHED"
    assert harness.document(PROGRAMME)["generationStatus"] == "CANCELLED"
    assert _calls(harness) == [f"DailyStructure{DAYS}Days"]
    assert harness.store.read(paths.day("project-1-v1", 1)) is None


def test_of_two_approvals_the_second_is_a_conflict(harness: EngineHarness):
    harness.signal("review", ReviewDecision(decision="approve"))

    with pytest.raises(Conflict):
        harness.signal("review", ReviewDecision(decision="approve"))


def test_a_review_for_another_tenants_run_is_not_found(harness: EngineHarness):
    with pytest.raises(NotFound):
        harness.signal("review", {"decision": "approve"}, tenant="org-b")

    assert harness.run().status is RunStatus.WAITING


def test_a_structure_with_another_number_of_days_is_refused(harness: EngineHarness):
    structure = harness.document(PROGRAMME)["structure"]

    with pytest.raises(InvalidInput):
        harness.signal(
            "review", {"decision": "approve", "structure": {"days": structure["days"][:1]}}
        )

    assert harness.run().status is RunStatus.WAITING


def test_an_unanswered_review_fails_by_the_sweep_saying_so(harness: EngineHarness):
    harness.pass_wait()

    run = harness.run()
    assert run.status is RunStatus.FAILED
    assert run.error is not None
    assert run.error.startswith("review timed out")
    assert harness.document(PROGRAMME)["error"] == run.error
