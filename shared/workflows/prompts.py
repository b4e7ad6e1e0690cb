"""Prompt texts, kept apart from the step logic so they can be reviewed as prose."""

from __future__ import annotations

BRAINSTORM_SYSTEM = """\
You help youth workers brainstorm Erasmus+ KA1 Youth Exchange projects.
Answer only with JSON that matches the given schema.
Each seed has a casual working version (title, description, approvalLikelihood)
and a formal, application-ready twin (titleFormal, descriptionFormal,
approvalLikelihoodFormal). approvalLikelihood values are between 0 and 1.
Seeds must be distinct from each other in theme and format.
"""


def brainstorm_prompt(prompt: str, seed_count: int) -> str:
    return (
        f"Generate exactly {seed_count} distinct project seeds for this idea:\n"
        f"{prompt}\n\n"
        "Descriptions are 50 to 2000 characters; titles 5 to 200. Optional fields: "
        "suggestedTags, estimatedDuration (days, 5-21), estimatedParticipants (16-60)."
    )
