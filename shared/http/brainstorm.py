"""/v1/brainstorm-sessions: create a session (and its run), read it back with seeds."""

from __future__ import annotations

from flask import Response

from shared.creation.brainstorm import BRAINSTORM
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
from shared.models.api import BrainstormSessionView
from shared.models.brainstorm import CreateBrainstormSession
from shared.models.common import GenerationStatus, projected
from shared.models.documents import BrainstormSession, Seed
from shared.models.runs import EventsQuery


def create_session(ctx: RequestContext, body: CreateBrainstormSession) -> Reply:
    return session_started(BRAINSTORM.create(ctx.origin(), body))


def get_session(ctx: RequestContext, session_id: str) -> BrainstormSessionView:
    session = owned_document(
        ctx, paths.brainstorm_session(session_id), BrainstormSession, "brainstorm session"
    )
    seeds: list[Seed] = []
    if session.generation_status == GenerationStatus.COMPLETED:
        # Only a completed session has its seeds: a frontend polling an
        # IN_PROGRESS one costs two reads, not a query as well.
        seeds = ctx.services.documents.list(paths.seeds_of(session_id), Seed, "position")
    return projected(
        BrainstormSessionView,
        session,
        session_id=session_id,
        status=session.generation_status,
        seeds=seeds,
        live_items=live_items(ctx, session.run_id, session.generation_status),
        progress=run_progress(ctx, session.run_id),
    )


def session_events(ctx: RequestContext, session_id: str, query: EventsQuery) -> Response:
    session = owned_document(
        ctx, paths.brainstorm_session(session_id), BrainstormSession, "brainstorm session"
    )
    return subject_events(ctx, session.run_id, query)
