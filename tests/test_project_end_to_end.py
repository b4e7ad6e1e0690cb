"""project.generate-from-idea: the wizard's answers become a stored Project, bounds checked."""

from __future__ import annotations

from devtools.samples import WIZARD_ANSWERS
from tests.helpers.stack import Stack


def test_wizard_answers_become_a_project_with_dna_and_concept_within_bounds(stack: Stack):
    response = stack.post("/v1/project-sessions", WIZARD_ANSWERS)
    assert response.status_code == 202
    created = response.get_json()
    assert created["status"] == "IN_PROGRESS"

    stack.deliver_all()

    session = stack.get(f"/v1/project-sessions/{created['sessionId']}").get_json()
    assert session["status"] == "COMPLETED"
    assert session["progress"]["completedSteps"] == session["progress"]["totalSteps"] == 5
    project = stack.get(f"/v1/projects/{session['projectId']}").get_json()
    assert project["status"] == "CONCEPT"
    assert project["erasmusAction"] == "KA1-Youth-Exchange"
    assert project["durationDays"] == 7
    assert project["participantCount"] == 24
    assert project["aiModel"] == "test-model"
    assert 5 <= len(project["title"]) <= 200
    assert 10 <= len(project["tagline"]) <= 300
    assert 3 <= len(project["objectives"]) <= 5
    assert [d["day"] for d in project["activityOutline"]] == list(range(1, 8))
    assert 5 <= len(project["learningOutcomes"]) <= 10
    for field in ("targetGroupDescription", "inclusionPlanOverview", "partnerProfile"):
        assert 100 <= len(project[field]) <= 2000
        assert 100 <= len(project[field + "Formal"]) <= 2000
    for field in ("sustainabilityNarrative", "impactNarrative"):
        assert 80 <= len(project[field]) <= 1000
        assert 80 <= len(project[field + "Formal"]) <= 1000
    budget = project["estimatedBudgetRange"]
    assert budget["currency"] == "EUR"
    assert budget["min"] <= budget["max"]
    dna = project["projectDna"]
    assert dna["target_group"]["age_range"] in ("13-17", "18-25", "26-30", "mixed")
    assert 5 <= dna["duration_preference"] <= 21
    assert "tenantId" not in project


def test_llm_steps_use_low_then_high_temperature(stack: Stack):
    stack.post("/v1/project-sessions", WIZARD_ANSWERS)
    stack.deliver_all()

    dna_request, concept_request = stack.llm.requests
    assert dna_request["temperature"] == 0.3
    assert concept_request["temperature"] == 0.8
    outline = concept_request["response_format"]["json_schema"]["schema"]["properties"][
        "activityOutline"
    ]
    assert outline["minItems"] == outline["maxItems"] == 7


def test_another_tenants_project_is_404(stack: Stack):
    from tests.helpers.stack import create_project

    project_id = create_project(stack)

    assert stack.get(f"/v1/projects/{project_id}", tenant="org-b").status_code == 404
    assert stack.get(f"/v1/projects/{project_id}", tenant="org-a").status_code == 200
