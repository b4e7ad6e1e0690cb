"""Creating a session (brainstorm, idea wizard) and starting its run, idempotently.

The session document and its run are created in one commit; only then is
the run published. An `Idempotency-Key` makes the ids deterministic, so a
retried request collides with the first and gets its answer back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from shared.engine import Workflow, Write
from shared.errors import Conflict, RunExists
from shared.http.context import RequestContext
from shared.http.routing import Reply
from shared.http.subjects import in_progress, start_subject_run
from shared.models.api import SessionStarted


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
    document = in_progress(ctx, session, run_id, now)
    try:
        start_subject_run(
            ctx,
            workflow=workflow,
            run_input=run_input,
            run_id=run_id,
            subject=session_path,
            now=now,
            writes=[Write(path=session_path, data=document, mode="create")],
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
