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


DNA_SYSTEM = """\
You analyse the answers of an Erasmus+ KA1 Youth Exchange idea wizard and
extract the project's DNA: who it is for, how complex inclusion and risk are,
language needs, green ambition, budget flexibility, partner maturity,
preferred duration and activity intensity. Answer only with JSON matching
the schema; use only the allowed enum values.
"""

CONCEPT_SYSTEM = """\
You write Erasmus+ KA1 Youth Exchange project concepts. Every long text
exists twice: a casual working version and a formal, application-ready
version (the ...Formal fields). The activity outline has one entry per day,
numbered from 1. Budgets are in EUR and realistic for the group size.
Answer only with JSON matching the schema.
"""

STRUCTURE_SYSTEM = """\
You plan the daily structure of an Erasmus+ Youth Exchange programme: one
entry per day, numbered from 1, each with a theme, morning/afternoon/evening
focus (casual and formal versions) and key learning outcomes.
Answer only with JSON matching the schema.
"""

DAY_SYSTEM = """\
You plan the sessions of one day of an Erasmus+ Youth Exchange programme.
Sessions are in time order; each ends after it starts ("HH:MM", 24 h);
activity_type is one of the allowed values. Include casual and formal
versions of title, description and preparation notes.
Answer only with JSON matching the schema.
"""


def dna_prompt(answers_json: str) -> str:
    return f"The idea wizard's answers (JSON):\n{answers_json}"


def concept_prompt(dna_json: str, answers_json: str, duration_days: int) -> str:
    return (
        f"Project DNA (JSON):\n{dna_json}\n\nOriginal answers (JSON):\n{answers_json}\n\n"
        f"Write the concept for a {duration_days}-day exchange."
    )


def structure_prompt(summary: str, duration_days: int) -> str:
    return f"Project:\n{summary}\n\nPlan {duration_days} days, numbered 1 to {duration_days}."


def day_prompt(summary: str, day_json: str) -> str:
    return f"Project:\n{summary}\n\nThe day to plan (JSON):\n{day_json}"
