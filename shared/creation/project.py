"""project.generate-from-idea from outside: a project session (the wizard's answers) and its run."""

from __future__ import annotations

import hashlib

from shared.creation import (
    Created,
    Creator,
    Origin,
    Rerunner,
    register,
    register_rerunner,
    started,
)
from shared.creation.sessions import start_rerun_session, start_session
from shared.engine import RerunPlan
from shared.errors import Conflict
from shared.models import paths
from shared.models.documents import ProjectSession
from shared.models.project import IdeaWizardAnswers, ProjectInput, StoredAnswers
from shared.workflows.project import project_from_idea


def project_id_for(run_id: str) -> str:
    """Deterministic per run: a replayed save-project rewrites the same document."""
    return "prj" + hashlib.sha256(f"project:{run_id}".encode()).hexdigest()[:29]


def _location(session_id: str) -> str:
    return f"/v1/project-sessions/{session_id}"


def create_session(origin: Origin, body: IdeaWizardAnswers) -> Created:
    session_id, run_id = origin.ids("project")
    session = started(
        origin,
        ProjectSession,
        run_id,
        origin.services.now(),
        id=session_id,
        answers=StoredAnswers.model_validate(body.model_dump()),
        project_id=None,
        ai_model=None,
        idempotency_key=origin.key if origin.source == "http" else None,
    )
    return start_session(
        origin,
        workflow=project_from_idea,
        session_path=paths.project_session(session_id),
        session=session,
        run_input=ProjectInput(session_id=session_id, project_id=project_id_for(run_id)),
        location=_location(session_id),
        request_of=lambda s: s.answers,
    )


PROJECT = register(Creator(project_from_idea, IdeaWizardAnswers, create_session))


def rerun_session(origin: Origin, plan: RerunPlan, session_id: str, run_id: str) -> Created:
    """A new session with the source's answers, and a new project: the source's stays."""
    services = origin.services
    source = services.documents.get(plan.source.subject, ProjectSession)
    if source is None:
        raise Conflict("the run's project session no longer exists")
    now = services.now()
    session = started(
        origin,
        ProjectSession,
        run_id,
        now,
        id=session_id,
        answers=source.answers,
        project_id=None,
        ai_model=None,
        rerun_of=source.id,
    )
    return start_rerun_session(
        origin,
        plan,
        session_path=paths.project_session(session_id),
        session=session,
        run_input=ProjectInput(session_id=session_id, project_id=project_id_for(run_id)),
        location=_location(session_id),
    )


PROJECT_RERUN = register_rerunner(
    Rerunner(
        project_from_idea,
        assigns=("session_id", "project_id"),
        start=rerun_session,
        location=_location,
    )
)
