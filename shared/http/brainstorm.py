"""/v1/brainstorm-sessions: create a session (and its run), read it back with seeds."""

from __future__ import annotations

from typing import Any

from flask import Response

from shared.http.context import RequestContext
from shared.http.responses import json_response, parse_body
from shared.http.sessions import owned_document, run_progress, start_session
from shared.models import paths
from shared.models.brainstorm import BrainstormInput, CreateBrainstormSession
from shared.models.common import GenerationStatus
from shared.workflows.brainstorm import brainstorm

SEED_FIELDS = (
    "title",
    "description",
    "approvalLikelihood",
    "titleFormal",
    "descriptionFormal",
    "approvalLikelihoodFormal",
    "suggestedTags",
    "estimatedDuration",
    "estimatedParticipants",
    "isSaved",
    "isDismissed",
    "createdAt",
)


def create_session(ctx: RequestContext) -> Response:
    body = parse_body(ctx.request, CreateBrainstormSession)
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


def get_session(ctx: RequestContext, session_id: str) -> Response:
    doc = owned_document(ctx, paths.brainstorm_session(session_id), "brainstorm session")
    seeds: list[dict[str, Any]] = []
    if doc.get("generationStatus") == GenerationStatus.COMPLETED:
        # Only a completed session has its seeds: a frontend polling an
        # IN_PROGRESS one costs two reads, not a query as well.
        seeds = [
            {"id": s.get("id"), **{k: s.get(k) for k in SEED_FIELDS}}
            for s in ctx.services.documents.list(paths.seeds_of(session_id), order_by="position")
        ]
    body: dict[str, Any] = {
        "sessionId": session_id,
        "runId": doc.get("runId"),
        "status": doc.get("generationStatus"),
        "prompt": doc.get("prompt"),
        "creativityTemp": doc.get("creativityTemp"),
        "seedCount": doc.get("seedCount"),
        "aiModel": doc.get("aiModel"),
        "createdAt": doc.get("createdAt"),
        "updatedAt": doc.get("updatedAt"),
        "seeds": seeds,
        "progress": run_progress(ctx, doc.get("runId")),
    }
    if doc.get("error"):
        body["error"] = doc["error"]
    return json_response(body)
