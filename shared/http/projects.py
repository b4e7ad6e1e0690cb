"""/v1/project-sessions and /v1/projects/{projectId}: the idea wizard's flow."""

from __future__ import annotations

from flask import Response

from shared.creation.project import PROJECT
from shared.http.context import RequestContext
from shared.http.routing import Reply
from shared.http.subjects import (
    live_items,
    owned_document,
    run_progress,
    session_started,
    subject_events,
)
from shared.models import paths
from shared.models.api import ProjectSessionView, ProjectView
from shared.models.common import projected
from shared.models.documents import Project, ProjectSession
from shared.models.project import IdeaWizardAnswers
from shared.models.runs import EventsQuery


def create_session(ctx: RequestContext, body: IdeaWizardAnswers) -> Reply:
    return session_started(PROJECT.create(ctx.origin(), body))


def get_session(ctx: RequestContext, session_id: str) -> ProjectSessionView:
    session = owned_document(
        ctx, paths.project_session(session_id), ProjectSession, "project session"
    )
    return projected(
        ProjectSessionView,
        session,
        session_id=session_id,
        status=session.generation_status,
        live_items=live_items(ctx, session.run_id, session.generation_status),
        progress=run_progress(ctx, session.run_id),
    )


def session_events(ctx: RequestContext, session_id: str, query: EventsQuery) -> Response:
    session = owned_document(
        ctx, paths.project_session(session_id), ProjectSession, "project session"
    )
    return subject_events(ctx, session.run_id, query)


def get_project(ctx: RequestContext, project_id: str) -> ProjectView:
    project = owned_document(ctx, paths.project(project_id), Project, "project")
    return projected(ProjectView, project, projectId=project_id)
