"""Firestore document paths of the domain, in one place for the API and the workflows."""

from __future__ import annotations

BRAINSTORM_SESSIONS = "brainstormSessions"
SEEDS = "seeds"


def brainstorm_session(session_id: str) -> str:
    return f"{BRAINSTORM_SESSIONS}/{session_id}"


def seeds_of(session_id: str) -> str:
    return f"{BRAINSTORM_SESSIONS}/{session_id}/{SEEDS}"


def seed(session_id: str, index: int) -> str:
    """Deterministic: the n-th seed of a session is always the same document."""
    return f"{seeds_of(session_id)}/seed-{index:02d}"


PROJECT_SESSIONS = "projectSessions"
PROJECTS = "projects"
PROGRAMMES = "programmes"
DAYS = "days"


def project_session(session_id: str) -> str:
    return f"{PROJECT_SESSIONS}/{session_id}"


def project(project_id: str) -> str:
    return f"{PROJECTS}/{project_id}"


def programme(programme_id: str) -> str:
    return f"{PROGRAMMES}/{programme_id}"


def programme_id_for(project_id: str, version: int) -> str:
    """Deterministic: version n of a project's programme has one possible id.

    Creating that document is what decides, atomically, which request
    starts version n; a racing request collides and joins it instead.
    """
    return f"{project_id}-v{version}"


def days_of(programme_id: str) -> str:
    return f"{PROGRAMMES}/{programme_id}/{DAYS}"


def day(programme_id: str, day_number: int) -> str:
    return f"{days_of(programme_id)}/day-{day_number:02d}"
