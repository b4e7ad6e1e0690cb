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
