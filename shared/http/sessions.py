"""Creating a session (brainstorm, idea wizard) and starting its run, idempotently.

The session document and its run are created in one commit; only then is
the run published. An `Idempotency-Key` makes the ids deterministic, so a
retried request collides with the first and gets its answer back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

from shared.engine import Workflow, Write
from shared.errors import Conflict, RunExists
from shared.http.context import RequestContext
from shared.http.routing import Reply
from shared.http.subjects import start_subject_run
from shared.models.api import SessionStarted
from shared.models.documents import Generation

S = TypeVar("S", bound=Generation)


def start_session(
    ctx: RequestContext,
    *,
    workflow: Workflow[Any],
    session_path: str,
    session: S,
    run_input: BaseModel,
    location: str,
    request_of: Callable[[S], object],
) -> Reply:
    """Create `session` and its run; 202 with the ids.

    `request_of` is what of a session its request decided: a retry with the
    same key must have asked for the same, or it is a conflict.
    """
    try:
        start_subject_run(
            ctx,
            workflow=workflow,
            run_input=run_input,
            run_id=session.run_id,
            subject=session_path,
            now=session.created_at,
            writes=[Write(path=session_path, data=session.stored(), mode="create")],
        )
    except RunExists:
        existing = ctx.services.documents.get(session_path, type(session))
        if existing is None or existing.tenant_id != ctx.principal.tenant_id:
            raise Conflict("this Idempotency-Key is in use") from None
        if request_of(existing) != request_of(session):
            raise Conflict(
                "this Idempotency-Key was already used with a different request body"
            ) from None
        session = existing
    started = SessionStarted(
        session_id=session.id, run_id=session.run_id, status=session.generation_status
    )
    return Reply(started, {"Location": location})
