"""Bad idea-wizard answers get a 422 naming the field, and nothing is written."""

from __future__ import annotations

import pytest

from devtools.samples import WIZARD_ANSWERS
from tests.helpers.stack import Stack

REQUIRED = [
    "theme",
    "age_group",
    "participant_count",
    "target_profile",
    "duration_days",
    "activity_intensity",
    "green_ambition",
    "partner_status",
    "partner_experience",
    "primary_languages",
    "translation_support",
    "interpretation_needed",
    "digital_comfort",
    "budget_flexibility",
]

BAD_VALUES = [
    ("theme", ""),
    ("theme", "x" * 501),
    ("participant_count", 15),
    ("participant_count", 61),
    ("participant_count", "24"),
    ("duration_days", 4),
    ("duration_days", 22),
    ("duration_days", 7.5),
    ("duration_days", True),
    ("age_group", "12-16"),
    ("target_profile", "everyone"),
    ("activity_intensity", "extreme"),
    ("green_ambition", "none"),
    ("partner_status", "unknown"),
    ("partner_experience", "veteran"),
    ("digital_comfort", "HIGH"),
    ("budget_flexibility", "unlimited"),
    ("translation_support", "yes"),
    ("interpretation_needed", 1),
    ("primary_languages", 5),
    ("primary_languages", ["English"]),
    ("primary_languages", "x" * 201),
    ("preferred_countries", ["Portugal", "Poland"]),
    ("preferred_countries", 3),
    ("preferred_countries", "x" * 501),
    ("description", "x" * 2001),
    ("description", False),
    ("specific_needs_description", ["wheelchair access"]),
    ("additional_notes", 5),
    ("durationDays", 7),
]


def _nothing_written(stack: Stack) -> None:
    assert stack.services.db.collection("projectSessions").get() == []
    assert stack.services.db.collection("runs").get() == []
    assert stack.pull(wait=0) == []


@pytest.mark.parametrize(("field", "value"), BAD_VALUES)
def test_a_value_out_of_bounds_or_of_the_wrong_type_is_422(stack: Stack, field: str, value):
    response = stack.post("/v1/project-sessions", {**WIZARD_ANSWERS, field: value})

    assert response.status_code == 422
    details = response.get_json()["error"]["details"]
    assert any(d["field"].split(".")[0] == field for d in details), details
    _nothing_written(stack)


@pytest.mark.parametrize("field", REQUIRED)
def test_a_missing_required_answer_is_422(stack: Stack, field: str):
    body = {k: v for k, v in WIZARD_ANSWERS.items() if k != field}

    response = stack.post("/v1/project-sessions", body)

    assert response.status_code == 422
    assert field in [d["field"] for d in response.get_json()["error"]["details"]]
    _nothing_written(stack)


def test_a_body_that_is_not_json_is_400(stack: Stack):
    response = stack.api.post("/v1/project-sessions", data=b"{theme: x}", headers={**stack.token()})

    assert response.status_code == 400
    _nothing_written(stack)


def test_a_whole_number_written_with_a_fraction_is_that_integer(stack: Stack):
    """JSON (and JSON Schema, so the OpenAPI document) has one number type: 7.0 is 7."""
    response = stack.post("/v1/project-sessions", {**WIZARD_ANSWERS, "duration_days": 7.0})

    assert response.status_code == 202, response.get_json()
    session = stack.get(f"/v1/project-sessions/{response.get_json()['sessionId']}").get_json()
    assert session["answers"]["duration_days"] == 7
