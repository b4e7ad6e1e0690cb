"""The idea wizard's payloads, as the app's zod schema sends them, are accepted and used rightly.

Its free-text answers are strings (`preferred_countries` is typed by the
user: "Spain, Poland"), and its initial state sends '' for every text field
left alone (`primary_languages` too). '' means "not given": accepted,
stored as absent, and never shown to the model as an answer.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from devtools.samples import WIZARD_ANSWERS
from tests.helpers.stack import Stack

OPTIONAL_TEXT = [
    "description",
    "specific_needs_description",
    "preferred_countries",
    "additional_notes",
]

# What the wizard posts when the user filled in every step.
FILLED_IN: dict[str, Any] = {
    **WIZARD_ANSWERS,
    "description": "Murals about local climate issues, painted together.",
    "target_profile": "specific_needs",
    "specific_needs_description": "Two participants use wheelchairs.",
    "preferred_countries": "Spain, Poland",
    "primary_languages": "English, Spanish",
    "additional_notes": "We can host in our own youth centre.",
}

# What the wizard posts when the user left every optional text field alone.
UNTOUCHED: dict[str, Any] = {
    **WIZARD_ANSWERS,
    "description": "",
    "specific_needs_description": "",
    "preferred_countries": "",
    "primary_languages": "",
    "additional_notes": "",
}


def _answers_in_prompts(stack: Stack) -> list[dict[str, Any]]:
    """The answers JSON each LLM request carried (both steps quote them)."""
    quoted = []
    for request in stack.llm.requests:
        text = "\n".join(m["content"] for m in request["messages"] if m["role"] == "user")
        start = text.index("answers (JSON):\n") + len("answers (JSON):\n")
        quoted.append(json.JSONDecoder().raw_decode(text[start:])[0])
    return quoted


def _stored_answers(stack: Stack, session_id: str) -> dict[str, Any]:
    doc = stack.services.db.document(f"projectSessions/{session_id}").get().to_dict()
    assert doc is not None
    answers: dict[str, Any] = doc["answers"]
    return answers


def _complete(stack: Stack, body: dict[str, Any]) -> str:
    response = stack.post("/v1/project-sessions", body)
    assert response.status_code == 202, response.get_json()
    session_id: str = response.get_json()["sessionId"]
    stack.deliver_all()
    session = stack.get(f"/v1/project-sessions/{session_id}").get_json()
    assert session["status"] == "COMPLETED", session
    assert stack.get(f"/v1/projects/{session['projectId']}").status_code == 200
    return session_id


def test_the_filled_in_payload_completes_and_the_prompt_quotes_its_answers(stack: Stack):
    session_id = _complete(stack, FILLED_IN)

    stored = _stored_answers(stack, session_id)
    assert stored["preferred_countries"] == "Spain, Poland"
    assert stored["primary_languages"] == "English, Spanish"
    for quoted in _answers_in_prompts(stack):
        assert quoted["preferred_countries"] == "Spain, Poland"
        assert quoted["primary_languages"] == "English, Spanish"
        assert quoted["specific_needs_description"] == "Two participants use wheelchairs."


def test_the_untouched_fields_payload_completes_with_blanks_stored_as_absent(stack: Stack):
    session_id = _complete(stack, UNTOUCHED)

    stored = _stored_answers(stack, session_id)
    for field in [*OPTIONAL_TEXT, "primary_languages"]:
        assert stored[field] is None, field
    prompts = _answers_in_prompts(stack)
    assert len(prompts) == 2
    for quoted in prompts:
        for field in [*OPTIONAL_TEXT, "primary_languages"]:
            assert field not in quoted, f"{field} shown to the model though not given"
        assert quoted["theme"] == WIZARD_ANSWERS["theme"]


def test_answers_are_stored_trimmed_and_whitespace_only_is_not_given(stack: Stack):
    body = {
        **WIZARD_ANSWERS,
        "preferred_countries": "  Spain, Poland \n",
        "description": "   ",
        "primary_languages": " \t",
        "additional_notes": "\n",
    }

    response = stack.post("/v1/project-sessions", body)

    assert response.status_code == 202, response.get_json()
    stored = _stored_answers(stack, response.get_json()["sessionId"])
    assert stored["preferred_countries"] == "Spain, Poland"
    assert stored["description"] is None
    assert stored["primary_languages"] is None
    assert stored["additional_notes"] is None


@pytest.mark.parametrize("field", OPTIONAL_TEXT)
def test_an_optional_text_answer_may_be_left_out(stack: Stack, field: str):
    body = {k: v for k, v in FILLED_IN.items() if k != field}

    assert stack.post("/v1/project-sessions", body).status_code == 202


def test_the_same_idempotency_key_with_blank_or_absent_answers_is_the_same_request(stack: Stack):
    """'' and a left-out answer are both "not given", so they are one and the same request."""
    without = {k: v for k, v in UNTOUCHED.items() if k not in OPTIONAL_TEXT}

    first = stack.post("/v1/project-sessions", UNTOUCHED, **{"Idempotency-Key": "wizard-1"})
    again = stack.post("/v1/project-sessions", without, **{"Idempotency-Key": "wizard-1"})

    assert first.status_code == again.status_code == 202
    assert first.get_json()["sessionId"] == again.get_json()["sessionId"]
