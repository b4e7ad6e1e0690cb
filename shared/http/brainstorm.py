"""/v1/brainstorm-sessions: create a session (and its run), read it back with seeds."""

from __future__ import annotations

from shared.http.context import RequestContext
from shared.http.routing import Reply
from shared.http.sessions import start_session
from shared.http.subjects import owned_document, run_progress
from shared.models import paths
from shared.models.api import BrainstormSessionView, SeedView
from shared.models.brainstorm import BrainstormInput, CreateBrainstormSession
from shared.models.common import GenerationStatus
from shared.workflows.brainstorm import brainstorm


def create_session(ctx: RequestContext, body: CreateBrainstormSession) -> Reply:
    session_id, run_id, key = ctx.new_ids("brainstorm")
    return start_session(
        ctx,
        workflow=brainstorm,
        session_path=paths.brainstorm_session(session_id),
        session={
            "id": session_id,
            "prompt": body.prompt,
            "creativityTemp": body.creativity_temp,
            "seedCount": body.seed_count,
            "aiModel": None,
            "idempotencyKey": key,
        },
        run_input=BrainstormInput(
            session_id=session_id,
            prompt=body.prompt,
            creativity_temp=body.creativity_temp,
            seed_count=body.seed_count,
        ),
        run_id=run_id,
        location=f"/v1/brainstorm-sessions/{session_id}",
        compare=("prompt", "creativityTemp", "seedCount"),
    )


def get_session(ctx: RequestContext, session_id: str) -> BrainstormSessionView:
    doc = owned_document(ctx, paths.brainstorm_session(session_id), "brainstorm session")
    seeds: list[SeedView] = []
    if doc.get("generationStatus") == GenerationStatus.COMPLETED:
        # Only a completed session has its seeds: a frontend polling an
        # IN_PROGRESS one costs two reads, not a query as well.
        seeds = [
            SeedView.model_validate(s)
            for s in ctx.services.documents.list(paths.seeds_of(session_id), order_by="position")
        ]
    return BrainstormSessionView.model_validate(
        {
            **doc,
            "sessionId": session_id,
            "status": doc.get("generationStatus"),
            "seeds": seeds,
            "progress": run_progress(ctx, doc.get("runId")),
        }
    )
