"""/v1/brainstorm-sessions: create a session (and its run), read it back with seeds."""

from __future__ import annotations

from shared.http.context import RequestContext
from shared.http.routing import Reply
from shared.http.sessions import start_session
from shared.http.subjects import owned_document, run_progress, started
from shared.models import paths
from shared.models.api import BrainstormSessionView
from shared.models.brainstorm import BrainstormInput, CreateBrainstormSession
from shared.models.common import GenerationStatus, projected
from shared.models.documents import BrainstormSession, Seed
from shared.workflows.brainstorm import brainstorm


def create_session(ctx: RequestContext, body: CreateBrainstormSession) -> Reply:
    session_id, run_id, key = ctx.new_ids("brainstorm")
    session = started(
        ctx,
        BrainstormSession,
        run_id,
        ctx.services.now(),
        id=session_id,
        prompt=body.prompt,
        creativity_temp=body.creativity_temp,
        seed_count=body.seed_count,
        ai_model=None,
        idempotency_key=key,
    )
    return start_session(
        ctx,
        workflow=brainstorm,
        session_path=paths.brainstorm_session(session_id),
        session=session,
        run_input=BrainstormInput(session_id=session_id),
        location=f"/v1/brainstorm-sessions/{session_id}",
        request_of=lambda s: (s.prompt, s.creativity_temp, s.seed_count),
    )


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
        progress=run_progress(ctx, session.run_id),
    )
