"""What every "create a session and start its run" route shares.

The session document and its run are created in one commit; only then is
the run published. An `Idempotency-Key` makes the ids deterministic, so a
retried request collides with the first and gets its answer back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from shared.engine import Workflow, Write, new_run, progress, registry, start_run
from shared.errors import Conflict, NotFound, RunExists
from shared.http.context import RequestContext
from shared.http.routing import Reply
from shared.models.api import SessionStarted
from shared.models.common import GenerationStatus, Progress


def start_session(
    ctx: RequestContext,
    *,
    workflow: Workflow[Any],
    session_path: str,
    session: dict[str, Any],
    run_input: BaseModel,
    run_id: str,
    location: str,
    compare: Sequence[str],
) -> Reply:
    """Create `session` (already carrying id, runId...) and its run; 202 with the ids."""
    services = ctx.services
    now = services.now()
    document = {
        **session,
        "tenantId": ctx.principal.tenant_id,
        "userId": ctx.principal.user_id,
        "generationStatus": GenerationStatus.IN_PROGRESS.value,
        "runId": run_id,
        "createdAt": now,
        "updatedAt": now,
    }
    run = new_run(
        workflow,
        run_input,
        run_id=run_id,
        tenant_id=ctx.principal.tenant_id,
        user_id=ctx.principal.user_id,
        subject=session_path,
        now=now,
        redrive_after=timedelta(seconds=services.settings.redrive_after_seconds),
    )
    try:
        start_run(
            services.store,
            services.publisher,
            run,
            [Write(path=session_path, data=document, mode="create")],
        )
    except RunExists:
        existing = services.documents.get(session_path)
        if existing is None or existing.get("tenantId") != ctx.principal.tenant_id:
            raise Conflict("this Idempotency-Key is in use") from None
        if any(existing.get(field) != document.get(field) for field in compare):
            raise Conflict(
                "this Idempotency-Key was already used with a different request body"
            ) from None
        document = existing
    started = SessionStarted(
        session_id=document["id"],
        run_id=document["runId"],
        status=document["generationStatus"],
    )
    return Reply(started, {"Location": location})


def owned_document(ctx: RequestContext, path: str, what: str) -> dict[str, Any]:
    """The document if it belongs to the caller's tenant; 404 exactly like a missing one."""
    doc = ctx.services.documents.get(path)
    if doc is None or doc.get("tenantId") != ctx.principal.tenant_id:
        raise NotFound(f"{what} not found")
    return doc


def run_progress(ctx: RequestContext, run_id: Any) -> Progress | None:
    if not run_id:
        return None
    loaded = ctx.services.store.load(str(run_id))
    if loaded is None:
        return None
    workflow = registry.get(loaded.record.workflow)
    return progress(loaded.record, workflow)
