"""brainstorm.generate-seeds from outside: a brainstorm session and its run."""

from __future__ import annotations

from shared.creation import Created, Creator, Origin, register, started
from shared.creation.sessions import start_session
from shared.models import paths
from shared.models.brainstorm import BrainstormInput, CreateBrainstormSession
from shared.models.documents import BrainstormSession
from shared.workflows.brainstorm import brainstorm


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
        location=f"/v1/brainstorm-sessions/{session_id}",
        request_of=lambda s: (s.prompt, s.creativity_temp, s.seed_count),
    )


BRAINSTORM = register(Creator(brainstorm, CreateBrainstormSession, create_session))
