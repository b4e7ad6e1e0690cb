"""What every route that creates or reads a subject (a session, a programme) shares.

A subject document and its run are created in one commit, then the run is
published (`start_subject_run`); reading one checks the tenant and attaches
its run's progress.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from shared.engine import Workflow, Write, progress, registry
from shared.errors import NotFound
from shared.http.context import RequestContext
from shared.models.common import Document, Progress
from shared.models.documents import Generation

G = TypeVar("G", bound=Generation)
D = TypeVar("D", bound=Document)


def started(ctx: RequestContext, model: type[G], run_id: str, now: datetime, **fields: Any) -> G:
    """A new subject document of the caller's: its own `fields`, in progress under run `run_id`."""
    owner = ctx.principal
    return model.started(
        tenant_id=owner.tenant_id, user_id=owner.user_id, run_id=run_id, now=now, **fields
    )


def start_subject_run(
    ctx: RequestContext,
    *,
    workflow: Workflow[Any],
    run_input: BaseModel,
    run_id: str,
    subject: str,
    now: datetime,
    writes: Sequence[Write],
) -> None:
    """Create the run with `writes` (the subject among them) in one commit, then publish it.

    Raises RunExists when the run or a created document is already there.
    """
    ctx.services.engine.start(
        workflow,
        run_input,
        run_id=run_id,
        tenant_id=ctx.principal.tenant_id,
        user_id=ctx.principal.user_id,
        subject=subject,
        writes=writes,
        now=now,
    )


def owned_document(ctx: RequestContext, path: str, model: type[D], what: str) -> D:
    """The document if it belongs to the caller's tenant; 404 exactly like a missing one."""
    doc = ctx.services.documents.get(path, model)
    if doc is None or doc.tenant_id != ctx.principal.tenant_id:
        raise NotFound(f"{what} not found")
    return doc


def run_progress(ctx: RequestContext, run_id: str) -> Progress | None:
    loaded = ctx.services.store.load(run_id)
    if loaded is None:
        return None
    workflow = registry.get(loaded.record.workflow)
    return progress(loaded.record, workflow)
