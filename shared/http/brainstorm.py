"""/v1/brainstorm-sessions: create a session (and its run), read it back with seeds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response

from shared.engine import registry
from shared.engine.lifecycle import new_run, start_run
from shared.engine.model import Write
from shared.engine.store import RunExists
from shared.engine.timeline import progress
from shared.errors import Conflict, NotFound
from shared.http.context import RequestContext
from shared.http.responses import json_response, parse_body
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
    services = ctx.services
    session_id, run_id, key = ctx.new_ids("brainstorm")
    now = services.now()
    session = {
        "id": session_id,
        "tenantId": ctx.principal.tenant_id,
        "userId": ctx.principal.user_id,
        "prompt": body.prompt,
        "creativityTemp": body.creativity_temp,
        "seedCount": body.seed_count,
        "generationStatus": GenerationStatus.IN_PROGRESS.value,
        "aiModel": None,
        "runId": run_id,
        "idempotencyKey": key,
        "createdAt": now,
        "updatedAt": now,
    }
    run_input = BrainstormInput(
        session_id=session_id,
        prompt=body.prompt,
        creativity_temp=body.creativity_temp,
        seed_count=body.seed_count,
    )
    run = new_run(
        brainstorm,
        run_input,
        run_id=run_id,
        tenant_id=ctx.principal.tenant_id,
        user_id=ctx.principal.user_id,
        subject=paths.brainstorm_session(session_id),
        now=now,
        redrive_after=timedelta(seconds=services.settings.redrive_after_seconds),
    )
    path = paths.brainstorm_session(session_id)
    try:
        start_run(
            services.store,
            services.publisher,
            run,
            [Write(path=path, data=session, mode="create")],
        )
    except RunExists:
        return _replayed_create(ctx, session_id, session)
    return json_response(
        {"sessionId": session_id, "runId": run_id, "status": GenerationStatus.IN_PROGRESS.value},
        202,
        {"Location": f"/v1/brainstorm-sessions/{session_id}"},
    )


def _replayed_create(ctx: RequestContext, session_id: str, wanted: dict[str, Any]) -> Response:
    """A create with an Idempotency-Key already used: the first session, or 409."""
    existing = ctx.services.documents.get(paths.brainstorm_session(session_id))
    if existing is None or existing.get("tenantId") != ctx.principal.tenant_id:
        raise Conflict("this Idempotency-Key is in use")
    for field in ("prompt", "creativityTemp", "seedCount"):
        if existing.get(field) != wanted[field]:
            raise Conflict("this Idempotency-Key was already used with a different request body")
    return json_response(
        {
            "sessionId": session_id,
            "runId": existing.get("runId"),
            "status": existing.get("generationStatus"),
        },
        202,
        {"Location": f"/v1/brainstorm-sessions/{session_id}"},
    )


def get_session(ctx: RequestContext, session_id: str) -> Response:
    services = ctx.services
    doc = services.documents.get(paths.brainstorm_session(session_id))
    if doc is None or doc.get("tenantId") != ctx.principal.tenant_id:
        raise NotFound("brainstorm session not found")
    run = services.store.load(str(doc.get("runId"))) if doc.get("runId") else None
    workflow = registry.get(brainstorm.id)
    seeds = [
        {"id": s.get("id"), **{k: s.get(k) for k in SEED_FIELDS}}
        for s in services.documents.list(paths.seeds_of(session_id), order_by="position")
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
    }
    if run is not None:
        body["progress"] = progress(run.record, workflow).model_dump(by_alias=True)
    if doc.get("error"):
        body["error"] = doc["error"]
    return json_response(body)
