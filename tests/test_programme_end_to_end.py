"""programme.generate-from-concept: a project's programme, days generated in parallel."""

from __future__ import annotations

from shared.models.programme import ActivityType
from tests.helpers.stack import Stack, create_project


def test_a_programme_is_generated_with_one_day_per_project_day_and_ordered_sessions(
    stack: Stack,
):
    project_id = create_project(stack, duration_days=6)
    stack.llm.requests.clear()

    response = stack.post(f"/v1/projects/{project_id}/programme", {})
    assert response.status_code == 202
    created = response.get_json()
    assert created["version"] == 1
    stack.deliver_all()

    programme = stack.get(f"/v1/programmes/{created['programmeId']}").get_json()
    assert programme["status"] == "COMPLETED"
    assert programme["programmeStatus"] == "DRAFT"
    assert programme["generatedFromConcept"]["durationDays"] == 6
    assert [d["dayNumber"] for d in programme["days"]] == [1, 2, 3, 4, 5, 6]
    for day in programme["days"]:
        assert 1 <= len(day["theme"]) <= 200
        for focus in ("morning_focus", "afternoon_focus", "evening_focus"):
            assert 1 <= len(day[focus]) <= 500
            assert 1 <= len(day[focus + "_formal"]) <= 500
        assert day["key_learning_outcomes"]
        assert day["sessions"], "every day has sessions"
        assert [s["position"] for s in day["sessions"]] == list(range(1, len(day["sessions"]) + 1))
        starts = [s["start_time"] for s in day["sessions"]]
        assert starts == sorted(starts)
        for session in day["sessions"]:
            assert session["end_time"] > session["start_time"]
            assert session["activity_type"] in ActivityType.__members__
            assert 1 <= len(session["title"]) <= 200
            assert 1 <= len(session["title_formal"]) <= 200
            for text in ("description", "description_formal", "methodology"):
                assert 1 <= len(session[text]) <= 2000
            for text in ("preparation_notes", "preparation_notes_formal"):
                assert 1 <= len(session[text]) <= 2000
            for listed in ("learning_objectives", "materials_needed"):
                assert isinstance(session[listed], list)
            for text in ("space_requirements", "accessibility_notes"):
                assert len(session[text]) <= 500
            for text in ("group_size", "language_level"):
                assert len(session[text]) <= 200
    assert len(stack.llm.requests) == 1 + 6
    run = stack.run_view(created["runId"])
    assert [s["id"] for s in run["steps"]] == [
        "load-project",
        "generate-daily-structure",
        "review",  # a wait, skipped: the programme was not created with `review: true`
        *[f"generate-day-{n}" for n in range(1, 7)],
        "save-programme",
    ]
    assert programme["progress"]["completedSteps"] == programme["progress"]["totalSteps"] == 10
