"""brainstorm.generate-seeds from outside: a brainstorm session and its run."""

from __future__ import annotations

from shared.creation import (
    Created,
    Creator,
    Origin,
    Rerunner,
    register,
    register_rerunner,
    started,
)
from shared.creation.sessions import start_rerun_session, start_session
from shared.engine import RerunPlan
from shared.errors import Conflict
from shared.models import paths
from shared.models.brainstorm import BrainstormInput, CreateBrainstormSession
from shared.models.documents import BrainstormSession
from shared.workflows.brainstorm import brainstorm


def _location(session_id: str) -> str:
    return f"/v1/brainstorm-sessions/{session_id}"


def create_session(origin: Origin, body: CreateBrainstormSession) -> Created:
    session_id, run_id = origin.ids("brainstorm")
    session = started(
        origin,
        BrainstormSession,
        run_id,
        origin.services.now(),
        id=session_id,
        prompt=body.prompt,
        creativity_temp=body.creativity_temp,
        seed_count=body.seed_count,
        ai_model=None,
        idempotency_key=origin.key if origin.source == "http" else None,
    )
    return start_session(
        origin,
        workflow=brainstorm,
        session_path=paths.brainstorm_session(session_id),
        session=session,
        run_input=BrainstormInput(session_id=session_id),
        location=_location(session_id),
        request_of=lambda s: (s.prompt, s.creativity_temp, s.seed_count),
    )


BRAINSTORM = register(Creator(brainstorm, CreateBrainstormSession, create_session))


def rerun_session(origin: Origin, plan: RerunPlan, session_id: str, run_id: str) -> Created:
    """A new session: the source's request with the rerun's overrides, and its own seeds.

    The source session keeps its seeds; the new one names it (`rerunOf`).
    """
    services = origin.services
    source = services.documents.get(plan.source.subject, BrainstormSession)
    if source is None:
        raise Conflict("the run's brainstorm session no longer exists")
    given = BrainstormInput.model_validate(plan.run_input.model_dump())
    now = services.now()
    session = started(
        origin,
        BrainstormSession,
        run_id,
        now,
        id=session_id,
        prompt=source.prompt if given.prompt is None else given.prompt,
        creativity_temp=source.creativity_temp
        if given.creativity_temp is None
        else given.creativity_temp,
        seed_count=source.seed_count if given.seed_count is None else given.seed_count,
        ai_model=None,
        rerun_of=source.id,
    )
    return start_rerun_session(
        origin,
        plan,
        session_path=paths.brainstorm_session(session_id),
        session=session,
        run_input=given.model_copy(update={"session_id": session_id}),
        location=_location(session_id),
    )


BRAINSTORM_RERUN = register_rerunner(
    Rerunner(brainstorm, assigns=("session_id",), start=rerun_session, location=_location)
)
