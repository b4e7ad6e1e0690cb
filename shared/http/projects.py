"""/v1/project-sessions and /v1/projects/{projectId}: the idea wizard's flow."""

from __future__ import annotations

import hashlib

from shared.http.context import RequestContext
from shared.http.routing import Reply
from shared.http.sessions import start_session
from shared.http.subjects import owned_document, run_progress
from shared.models import paths
from shared.models.api import ProjectSessionView, ProjectView
from shared.models.project import IdeaWizardAnswers, ProjectInput
from shared.workflows.project import project_from_idea


def project_id_for(run_id: str) -> str:
    """Deterministic per run: a replayed save-project rewrites the same document."""
    return "prj" + hashlib.sha256(f"project:{run_id}".encode()).hexdigest()[:29]


def create_session(ctx: RequestContext, body: IdeaWizardAnswers) -> Reply:
    session_id, run_id, key = ctx.new_ids("project")
    project_id = project_id_for(run_id)
    return start_session(
        ctx,
        workflow=project_from_idea,
        session_path=paths.project_session(session_id),
        session={
            "id": session_id,
            "answers": body.model_dump(mode="json"),
            "projectId": None,
            "aiModel": None,
            "idempotencyKey": key,
        },
        run_input=ProjectInput(session_id=session_id, project_id=project_id),
        run_id=run_id,
        location=f"/v1/project-sessions/{session_id}",
        compare=("answers",),
    )


def get_session(ctx: RequestContext, session_id: str) -> ProjectSessionView:
    doc = owned_document(ctx, paths.project_session(session_id), "project session")
    return ProjectSessionView.model_validate(
        {
            **doc,
            "sessionId": session_id,
            "status": doc.get("generationStatus"),
            "progress": run_progress(ctx, doc.get("runId")),
        }
    )


def get_project(ctx: RequestContext, project_id: str) -> ProjectView:
    doc = owned_document(ctx, paths.project(project_id), "project")
    return ProjectView.model_validate({**doc, "projectId": project_id})
