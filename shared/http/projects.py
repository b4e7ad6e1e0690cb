"""/v1/project-sessions and /v1/projects/{projectId}: the idea wizard's flow."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Response

from shared.http.context import RequestContext
from shared.http.responses import json_response, parse_body
from shared.http.sessions import owned_document, run_progress, start_session
from shared.models import paths
from shared.models.project import IdeaWizardAnswers, ProjectInput
from shared.workflows.project import project_from_idea

HIDDEN = ("tenantId",)


def project_id_for(run_id: str) -> str:
    """Deterministic per run: a replayed save-project rewrites the same document."""
    return "prj" + hashlib.sha256(f"project:{run_id}".encode()).hexdigest()[:29]


def create_session(ctx: RequestContext) -> Response:
    answers = parse_body(ctx.request, IdeaWizardAnswers)
    session_id, run_id, key = ctx.new_ids("project")
    project_id = project_id_for(run_id)
    return start_session(
        ctx,
        workflow=project_from_idea,
        session_path=paths.project_session(session_id),
        session={
            "id": session_id,
            "answers": answers.model_dump(mode="json"),
            "projectId": None,
            "aiModel": None,
            "idempotencyKey": key,
        },
        run_input=ProjectInput(session_id=session_id, project_id=project_id),
        run_id=run_id,
        location=f"/v1/project-sessions/{session_id}",
        compare=("answers",),
    )


def get_session(ctx: RequestContext, session_id: str) -> Response:
    doc = owned_document(ctx, paths.project_session(session_id), "project session")
    body: dict[str, Any] = {
        "sessionId": session_id,
        "runId": doc.get("runId"),
        "status": doc.get("generationStatus"),
        "answers": doc.get("answers"),
        "aiModel": doc.get("aiModel"),
        "createdAt": doc.get("createdAt"),
        "updatedAt": doc.get("updatedAt"),
        "progress": run_progress(ctx, doc.get("runId")),
    }
    if doc.get("projectId"):
        body["projectId"] = doc["projectId"]
    if doc.get("error"):
        body["error"] = doc["error"]
    return json_response(body)


def get_project(ctx: RequestContext, project_id: str) -> Response:
    doc = owned_document(ctx, paths.project(project_id), "project")
    body = {k: v for k, v in doc.items() if k not in HIDDEN}
    body["projectId"] = project_id
    return json_response(body)
