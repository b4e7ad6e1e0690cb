"""/v1/projects/{projectId}/programme and /v1/programmes/{programmeId}.

Which request starts version n of a project's programme, and joining the
version already generating, is `shared.creation.programme`.
"""

from __future__ import annotations

from flask import Response

from shared.creation.programme import PROGRAMME
from shared.http.context import RequestContext
from shared.http.routing import Reply
from shared.http.subjects import (
    live_items,
    owned_document,
    programme_started,
    run_progress,
    subject_events,
)
from shared.models import paths
from shared.models.api import ProgrammeView
from shared.models.common import projected
from shared.models.documents import Day, Programme
from shared.models.programme import CreateProgramme, ProgrammeOptions
from shared.models.runs import EventsQuery


def create_programme(ctx: RequestContext, project_id: str, body: ProgrammeOptions) -> Reply:
    request = CreateProgramme.model_validate({"projectId": project_id, "review": body.review})
    return programme_started(PROGRAMME.create(ctx.origin(keyed=False), request))


def get_programme(ctx: RequestContext, programme_id: str) -> ProgrammeView:
    programme = owned_document(ctx, paths.programme(programme_id), Programme, "programme")
    days = ctx.services.documents.list(paths.days_of(programme_id), Day, "day_number")
    return projected(
        ProgrammeView,
        programme,
        programme_id=programme_id,
        status=programme.generation_status,
        programme_status=programme.status,
        days=days,
        live_items=live_items(ctx, programme.run_id, programme.generation_status),
        progress=run_progress(ctx, programme.run_id),
    )


def programme_events(ctx: RequestContext, programme_id: str, query: EventsQuery) -> Response:
    programme = owned_document(ctx, paths.programme(programme_id), Programme, "programme")
    return subject_events(ctx, programme.run_id, query)
