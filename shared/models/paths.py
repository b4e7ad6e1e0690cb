"""Firestore document paths of the domain, in one place for the API and the workflows."""

from __future__ import annotations

import re

# Every id we mint is hex, `prj` + hex or `<projectId>-v<n>`. Firestore rejects
# or reserves much else (".", "..", "__x__", "/", over 1500 bytes), and an id
# it rejects raises InvalidArgument instead of reading as missing, so an id
# from outside is checked against this before it reaches Firestore.
DOCUMENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


def is_document_id(value: str) -> bool:
    return DOCUMENT_ID.fullmatch(value) is not None


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
