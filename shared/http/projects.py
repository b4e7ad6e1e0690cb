"""/v1/project-sessions and /v1/projects/{projectId}: the idea wizard's flow."""

from __future__ import annotations

import hashlib

from shared.http.context import RequestContext
from shared.http.routing import Reply
from shared.http.sessions import start_session
from shared.http.subjects import owned_document, run_progress, started
from shared.models import paths
from shared.models.api import ProjectSessionView, ProjectView
from shared.models.common import projected
from shared.models.documents import Project, ProjectSession
from shared.models.project import IdeaWizardAnswers, ProjectInput, StoredAnswers
from shared.workflows.project import project_from_idea


def project_id_for(run_id: str) -> str:
    """Deterministic per run: a replayed save-project rewrites the same document."""
    return "prj" + hashlib.sha256(f"project:{run_id}".encode()).hexdigest()[:29]


def create_session(ctx: RequestContext, body: IdeaWizardAnswers) -> Reply:
    session_id, run_id, key = ctx.new_ids("project")
    project_id = project_id_for(run_id)
    session = started(
        ctx,
        ProjectSession,
        run_id,
        ctx.services.now(),
        id=session_id,
        answers=StoredAnswers.model_validate(body.model_dump()),
        project_id=None,
        ai_model=None,
        idempotency_key=key,
    )
    return start_session(
        ctx,
        workflow=project_from_idea,
        session_path=paths.project_session(session_id),
        session=session,
        run_input=ProjectInput(session_id=session_id, project_id=project_id),
        location=f"/v1/project-sessions/{session_id}",
        request_of=lambda s: s.answers,
    )


def get_session(ctx: RequestContext, session_id: str) -> ProjectSessionView:
    session = owned_document(
        ctx, paths.project_session(session_id), ProjectSession, "project session"
    )
    return projected(
        ProjectSessionView,
        session,
        session_id=session_id,
        status=session.generation_status,
        progress=run_progress(ctx, session.run_id),
    )


def get_project(ctx: RequestContext, project_id: str) -> ProjectView:
    project = owned_document(ctx, paths.project(project_id), Project, "project")
    return projected(ProjectView, project, projectId=project_id)
