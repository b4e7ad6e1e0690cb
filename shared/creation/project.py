"""project.generate-from-idea from outside: a project session (the wizard's answers) and its run."""

from __future__ import annotations

import hashlib

from shared.creation import Created, Creator, Origin, register, started
from shared.creation.sessions import start_session
from shared.models import paths
from shared.models.documents import ProjectSession
from shared.models.project import IdeaWizardAnswers, ProjectInput, StoredAnswers
from shared.workflows.project import project_from_idea


def project_id_for(run_id: str) -> str:
    """Deterministic per run: a replayed save-project rewrites the same document."""
    return "prj" + hashlib.sha256(f"project:{run_id}".encode()).hexdigest()[:29]


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
        location=f"/v1/project-sessions/{session_id}",
        request_of=lambda s: s.answers,
    )


PROJECT = register(Creator(project_from_idea, IdeaWizardAnswers, create_session))
