"""Sample requests shared by the tests, the benchmarks and the README's examples."""

from __future__ import annotations

from typing import Any

# A valid idea-wizard answer set (POST /v1/project-sessions), 7 days.
WIZARD_ANSWERS: dict[str, Any] = {
    "theme": "Climate action through street art",
    "description": "Young people from four countries paint murals about local climate issues.",
    "age_group": "18-25",
    "participant_count": 24,
    "target_profile": "fewer_opportunities",
    "duration_days": 7,
    "activity_intensity": "medium",
    "green_ambition": "high",
    "partner_status": "some_confirmed",
    "partner_experience": "mixed",
    "preferred_countries": "Portugal, Poland",
    "primary_languages": "English",
    "translation_support": True,
    "interpretation_needed": False,
    "digital_comfort": "medium",
    "budget_flexibility": "moderate",
}
