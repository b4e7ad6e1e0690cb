"""Creating a session (brainstorm, idea wizard) and starting its run, idempotently.

The session document and its run are created in one commit; only then is
the run published. With a key (an `Idempotency-Key`, an event id) the ids
are deterministic, so a retry collides with the first and gets its answer
back: the same session if it asked for the same, a `Conflict` if not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

from shared.creation import Created, Origin, start_subject_run
from shared.engine import RerunPlan, Workflow, Write
from shared.errors import AdmissionRefused, Conflict, RunExists
from shared.models.documents import Generation

S = TypeVar("S", bound=Generation)


def start_session(
    origin: Origin,
    *,
    workflow: Workflow[Any],
    session_path: str,
    session: S,
    run_input: BaseModel,
    location: str,
    request_of: Callable[[S], object],
) -> Created:
    """Create `session` and its run, or find the keyed first one.

    `request_of` is what of a session its request decided: a retry with the
    same key must have asked for the same, or it is a conflict.
    """
    documents = origin.services.documents

    def existing() -> Created | None:
        found = documents.get(session_path, type(session))
        if found is None or found.tenant_id != origin.tenant_id:
            return None
        if request_of(found) != request_of(session):
            raise Conflict(
                "this Idempotency-Key was already used with a different request body"
                if origin.source == "http"
                else "this event id was already used with different data"
            )
        return _created(found, location, existing=True)

    try:
        origin.admit()
    except AdmissionRefused:
        # A retry of a create that was admitted earlier is answered, not refused.
        if origin.key is not None and (first := existing()) is not None:
            return first
        raise
    try:
        start_subject_run(
            origin,
            workflow=workflow,
            run_input=run_input,
            run_id=session.run_id,
            subject=session_path,
            now=session.created_at,
            writes=[Write(path=session_path, data=session.stored(), mode="create")],
        )
    except RunExists:
        first = existing()
        if first is None:
            raise Conflict("this Idempotency-Key is in use") from None
        return first
    return _created(session, location)


def start_rerun_session(
    origin: Origin,
    plan: RerunPlan,
    *,
    session_path: str,
    session: Generation,
    run_input: BaseModel,
    location: str,
) -> Created:
    """Create a rerun's new `session` in the commit that creates its run.

    No idempotency lookup here: the rerun route's own key decided the run
    id, and the engine refuses a second create of it.
    """
    origin.services.engine.rerun(
        plan,
        run_input,
        run_id=session.run_id,
        user_id=origin.user_id,
        subject=session_path,
        writes=[Write(path=session_path, data=session.stored(), mode="create")],
        now=session.created_at,
    )
    return _created(session, location)


def _created(session: Generation, location: str, existing: bool = False) -> Created:
    return Created(
        subject_id=session.id,
        run_id=session.run_id,
        status=session.generation_status.value,
        location=location,
        existing=existing,
    )
