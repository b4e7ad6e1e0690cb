"""Documents as they are stored today load through their models and write back unchanged.

Each raw dict below is a domain document (or the engine's usage document)
exactly as the code wrote it before the models existed (hand-written dicts,
field by field), with the types
Firestore hands back. Loading it and writing it again (`stored()`) giving
the same dict proves the models kept every stored name; a model that
renamed a field would drop it on load and fail here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from shared.engine import DailyUsage, RunRecord, RunView, registry, run_view
from shared.models.api import BrainstormSessionView, ProgrammeView
from shared.models.brainstorm import BrainstormInput
from shared.models.common import Document, projected
from shared.models.documents import (
    BrainstormSession,
    Day,
    Operation,
    Programme,
    Project,
    ProjectSession,
    Seed,
)
from shared.workflows.subject import GENERATION_SUBJECT

CREATED = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
UPDATED = datetime(2026, 11, 2, 9, 31, 12, tzinfo=UTC)
LONG = "A long enough narrative for a project's description field. " * 3  # over 100 characters

BRAINSTORM_SESSION: dict[str, Any] = {
    "id": "0d4c1f5e9b2a4c7d8e6f1a2b3c4d5e6f",
    "prompt": "Youth exchange ideas about climate and art",
    "creativityTemp": 0.9,
    "seedCount": 5,
    "aiModel": "gpt-4o-mini",
    "idempotencyKey": None,
    "tenantId": "org-a",
    "userId": "user-1",
    "generationStatus": "COMPLETED",
    "runId": "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
    "createdAt": CREATED,
    "updatedAt": UPDATED,
    "error": None,
}

SEED: dict[str, Any] = {
    "id": "seed-01",
    "sessionId": "0d4c1f5e9b2a4c7d8e6f1a2b3c4d5e6f",
    "tenantId": "org-a",
    "position": 1,
    "title": "Murals for the climate",
    "description": "Young people from four countries paint murals about local climate issues.",
    "approvalLikelihood": 0.8,
    "titleFormal": "Murals on Climate Action",
    "descriptionFormal": "Participants co-create public murals addressing local climate issues.",
    "approvalLikelihoodFormal": 0.75,
    "suggestedTags": ["art", "climate"],
    "estimatedDuration": None,
    "estimatedParticipants": 30,
    "isSaved": False,
    "isDismissed": False,
    "aiModel": "gpt-4o-mini",
    "createdAt": UPDATED,
}

PROJECT_SESSION: dict[str, Any] = {
    "id": "5e6f0d4c1f5e9b2a4c7d8e6f1a2b3c4d",
    # Every answer key is stored; a blank answer as null.
    "answers": {
        "theme": "Climate action through street art",
        "description": None,
        "age_group": "18-25",
        "participant_count": 24,
        "target_profile": "fewer_opportunities",
        "specific_needs_description": None,
        "duration_days": 7,
        "activity_intensity": "medium",
        "green_ambition": "high",
        "partner_status": "some_confirmed",
        "partner_experience": "mixed",
        "preferred_countries": "Portugal, Poland",
        "primary_languages": None,
        "translation_support": True,
        "interpretation_needed": False,
        "digital_comfort": "medium",
        "budget_flexibility": "moderate",
        "additional_notes": None,
    },
    "projectId": "prj0123456789abcdef0123456789a",
    "aiModel": "gpt-4o-mini",
    "idempotencyKey": "wizard-submit-1",
    "tenantId": "org-a",
    "userId": "user-1",
    "generationStatus": "COMPLETED",
    "runId": "1c0d9e8f7a6b5c4d9a8b7c6d5e4f3a2b",
    "createdAt": CREATED,
    "updatedAt": UPDATED,
    "error": None,
}

PROJECT: dict[str, Any] = {
    "id": "prj0123456789abcdef0123456789a",
    "tenantId": "org-a",
    "userId": "user-1",
    "sessionId": "5e6f0d4c1f5e9b2a4c7d8e6f1a2b3c4d",
    "title": "Murals for the climate",
    "tagline": "Painting what the climate means to us",
    "objectives": [
        {"text": f"Objective number {n} of the exchange", "erasmus_priority": "Inclusion"}
        for n in (1, 2, 3)
    ],
    "targetGroupDescription": LONG,
    "targetGroupDescriptionFormal": LONG,
    "activityOutline": [
        {"day": d, "morning": "Workshop", "afternoon": "Painting", "evening": "Reflection"}
        for d in range(1, 6)
    ],
    "learningOutcomes": [
        {"category": "Skills", "outcome": f"Participants learn skill number {n}."}
        for n in range(1, 6)
    ],
    "inclusionPlanOverview": LONG,
    "inclusionPlanOverviewFormal": LONG,
    "partnerProfile": LONG,
    "partnerProfileFormal": LONG,
    # `exceptional` was left out, as an absent optional concept field is.
    "estimatedBudgetRange": {
        "min": 20000,
        "max": 30000,
        "currency": "EUR",
        "breakdown": {
            "organizational": 5000,
            "travel_min": 6000,
            "travel_max": 9000,
            "individual_min": 7000,
            "individual_max": 12000,
            "inclusion": 2000,
        },
    },
    "sustainabilityNarrative": LONG[:90],
    "sustainabilityNarrativeFormal": LONG[:90],
    "impactNarrative": LONG[:90],
    "impactNarrativeFormal": LONG[:90],
    "projectDna": {
        "target_group": {
            "age_range": "18-25",
            "size": 30,
            "profile": "general",
            "specific_needs": [],
        },
        "theme": "Climate and art",
        "inclusion_complexity": "low",
        "risk_level": "low",
        "digital_comfort": "medium",
        "language_needs": {
            "primary": ["English"],
            "translation_required": False,
            "interpretation_needed": False,
        },
        "green_ambition": "high",
        "budget_flexibility": "moderate",
        "partner_maturity": "mixed",
        "duration_preference": 5,
        "activity_intensity": "medium",
    },
    "status": "CONCEPT",
    "erasmusAction": "KA1-Youth-Exchange",
    "durationDays": 5,
    "participantCount": 30,
    "aiModel": "gpt-4o-mini",
    "latestProgrammeVersion": 1,
    "createdAt": CREATED,
    "updatedAt": UPDATED,
    # Merged in by the programme's create.
    "latestProgrammeId": "prj0123456789abcdef0123456789a-v1",
}

PROGRAMME: dict[str, Any] = {
    "id": "prj0123456789abcdef0123456789a-v1",
    "projectId": "prj0123456789abcdef0123456789a",
    "version": 1,
    "status": "DRAFT",
    "aiModel": "gpt-4o-mini",
    "tenantId": "org-a",
    "userId": "user-1",
    "generationStatus": "COMPLETED",
    "runId": "7a6b5c4d1c0d9e8f9a8b7c6d5e4f3a2b",
    "createdAt": CREATED,
    "updatedAt": UPDATED,
    "generatedFromConcept": {
        "projectTitle": "Murals for the climate",
        "durationDays": 5,
        "generatedAt": UPDATED,
    },
    "dayCount": 5,
    "sessionCount": 15,
    "error": None,
}

SESSION_OF_A_DAY: dict[str, Any] = {
    "title": "Welcome circle",
    "description": "Getting to know each other.",
    "activity_type": "ICEBREAKER",
    "start_time": "09:00",
    "end_time": "10:00",
    "learning_objectives": ["Know every name"],
    "methodology": "Name games in a circle.",
    "materials_needed": ["Ball"],
    "preparation_notes": "Clear the room.",
    "space_requirements": "A large room",
    "group_size": "30",
    "accessibility_notes": "Step-free room",
    "language_level": "A2",
    "title_formal": "Opening Session",
    "description_formal": "Introductory activities.",
    "preparation_notes_formal": "Prepare the venue.",
}

DAY: dict[str, Any] = {
    "dayNumber": 1,
    "programmeId": "prj0123456789abcdef0123456789a-v1",
    "tenantId": "org-a",
    "theme": "Arrival",
    "morning_focus": "Welcome",
    "afternoon_focus": "Team building",
    "evening_focus": "Dinner",
    "morning_focus_formal": "Opening",
    "afternoon_focus_formal": "Group formation",
    "evening_focus_formal": "Intercultural evening",
    "key_learning_outcomes": ["Trust"],
    "sessions": [
        {"position": 1, **SESSION_OF_A_DAY},
        {"position": 2, **SESSION_OF_A_DAY, "start_time": "10:30", "end_time": "12:00"},
    ],
}

OPERATION: dict[str, Any] = {
    "operationId": "4f3a2b1c0d9e8f7a6b5c4d9a8b7c6d5e",
    "tenantId": "org-a",
    "action": "cancel",
    "matched": 120,
    "generationStatus": "COMPLETED",
    "createdAt": CREATED,
    "createdBy": "user-1",
    "selected": 120,
    "pageCount": 2,
    "updatedAt": UPDATED,
    "pages": {"0": {"succeeded": 98, "skipped": 2}, "1": {"succeeded": 20, "skipped": 0}},
    "succeeded": 118,
    "skipped": 2,
    "finishedAt": UPDATED,
    "error": None,
}

# Written only as increments by the engine's ledger (runs at creation, tokens per commit).
USAGE_DAY: dict[str, Any] = {
    "tenantId": "org-a",
    "day": "2026-11-02",
    "workflow": "brainstorm.generate-seeds",
    "runs": 3,
    "promptTokens": 5400,
    "completionTokens": 2100,
    "totalTokens": 7500,
    "costUsd": 0.00207,
}

STORED: list[tuple[type[Document], dict[str, Any]]] = [
    (BrainstormSession, BRAINSTORM_SESSION),
    (Seed, SEED),
    (ProjectSession, PROJECT_SESSION),
    (Project, PROJECT),
    (Programme, PROGRAMME),
    (Day, DAY),
    (Operation, OPERATION),
    (DailyUsage, USAGE_DAY),
]


@pytest.mark.parametrize(("model", "raw"), STORED, ids=[m.__name__ for m, _ in STORED])
def test_a_stored_document_loads_and_writes_back_unchanged(model: type[Document], raw: dict):
    assert model.model_validate(raw).stored() == raw


def test_a_stored_document_loads_with_its_values():
    session = BrainstormSession.model_validate(BRAINSTORM_SESSION)

    assert (session.prompt, session.creativity_temp, session.seed_count) == (
        "Youth exchange ideas about climate and art",
        0.9,
        5,
    )
    assert session.generation_status == "COMPLETED"
    assert session.tenant_id == "org-a"


def test_a_field_written_by_someone_else_is_ignored_on_load():
    """The app may add fields to its documents (a seed's notes); loading must not fail."""
    seed = Seed.model_validate({**SEED, "userNotes": "keep this one"})

    assert "userNotes" not in seed.stored()


def test_a_run_started_before_stores_its_session_fields_in_the_input_and_still_loads():
    old_input = {
        "sessionId": "0d4c1f5e9b2a4c7d8e6f1a2b3c4d5e6f",
        "prompt": "Youth exchange ideas about climate and art",
        "creativityTemp": 0.9,
        "seedCount": 5,
    }

    assert BrainstormInput.model_validate(old_input).session_id == old_input["sessionId"]


def test_a_merge_writes_only_the_given_fields_by_their_stored_names():
    assert Operation.patch(page_count=3, updated_at=UPDATED) == {
        "pageCount": 3,
        "updatedAt": UPDATED,
    }


def test_a_merge_refuses_a_field_the_document_does_not_have():
    with pytest.raises(TypeError, match="pageCnt"):
        Operation.patch(pageCnt=3)


def test_a_merge_refuses_a_value_its_field_would_not_hold():
    with pytest.raises(ValidationError):
        Operation.patch(page_count="three")


def test_the_subject_fields_the_engine_sets_are_the_documents_stored_names():
    assert (GENERATION_SUBJECT.status, GENERATION_SUBJECT.error, GENERATION_SUBJECT.updated_at) == (
        "generationStatus",
        "error",
        "updatedAt",
    )


def test_a_view_shows_no_field_only_the_server_keeps():
    session = BrainstormSession.model_validate(BRAINSTORM_SESSION)
    view = projected(
        BrainstormSessionView,
        session,
        session_id=session.id,
        status=session.generation_status,
        seeds=[Seed.model_validate(SEED)],
        live_items=[],
        progress=None,
    )

    shown = view.model_dump(by_alias=True, exclude_none=True)
    assert {"tenantId", "userId", "idempotencyKey"}.isdisjoint(shown)
    assert {"tenantId", "sessionId", "position", "aiModel"}.isdisjoint(shown["seeds"][0])


def test_a_programme_view_shows_its_stored_days_without_their_tenant():
    programme = Programme.model_validate(PROGRAMME)
    view = projected(
        ProgrammeView,
        programme,
        programme_id=programme.id,
        status=programme.generation_status,
        programme_status=programme.status,
        days=[Day.model_validate(DAY)],
        live_items=[],
        progress=None,
    )

    [shown] = view.model_dump(by_alias=True)["days"]
    assert shown == {k: v for k, v in DAY.items() if k != "tenantId"}


def test_a_view_field_its_record_lacks_is_refused():
    class Wrong(RunView):
        never_stored: str

    run = RunRecord.model_validate(
        {
            "runId": "r1",
            "workflow": "brainstorm.generate-seeds",
            "tenantId": "org-a",
            "userId": "user-1",
            "subject": "brainstormSessions/s1",
            "input": {"sessionId": "s1"},
            "status": "QUEUED",
            "createdAt": CREATED,
            "deadlineAt": UPDATED,
        }
    )
    assert run_view(run, registry.get(run.workflow)).run_id == "r1"
    with pytest.raises(TypeError, match="never_stored"):
        projected(Wrong, run, progress=None, steps=[], resumes=[])
