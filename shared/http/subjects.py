"""What every route that creates or reads a subject (a session, a programme) shares.

Creating one is `shared.creation` (the same path a trigger event takes); the
routes turn what it started into their 202 answer. Reading one checks the
tenant and attaches its run's progress.
"""

from __future__ import annotations

from typing import TypeVar

from flask import Response

from shared.creation import Created
from shared.engine import Progress, current_items, live_entries, live_path, progress, registry
from shared.errors import NotFound
from shared.http.context import RequestContext
from shared.http.routing import Reply
from shared.http.run_events import last_event_id, stream_run
from shared.models.api import LiveItem, ProgrammeStarted, SessionStarted
from shared.models.common import Document, GenerationStatus
from shared.models.runs import EventsQuery

D = TypeVar("D", bound=Document)


def session_started(created: Created) -> Reply:
    accepted = SessionStarted(
        session_id=created.subject_id,
        run_id=created.run_id,
        status=GenerationStatus(created.status),
    )
    return Reply(accepted, {"Location": created.location})


def programme_started(created: Created) -> Reply:
    assert created.version is not None
    accepted = ProgrammeStarted(
        programme_id=created.subject_id,
        run_id=created.run_id,
        status=GenerationStatus(created.status),
        version=created.version,
    )
    return Reply(accepted, {"Location": created.location})


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


def live_items(ctx: RequestContext, run_id: str, status: GenerationStatus) -> list[LiveItem]:
    """The items streamed so far, while the subject is not COMPLETED (one more read)."""
    if status in (GenerationStatus.COMPLETED, GenerationStatus.FAILED, GenerationStatus.CANCELLED):
        return []
    entries = live_entries(ctx.services.live.read(live_path(run_id)))
    return [
        LiveItem(
            step=found.step,
            attempt=found.attempt,
            index=found.index,
            item=found.item,
            provisional=found.provisional,
        )
        for found in current_items(entries)
    ]


def subject_events(ctx: RequestContext, run_id: str, query: EventsQuery) -> Response:
    """A subject's event stream: its run's (checked for the tenant already)."""
    after = last_event_id(ctx, query)
    loaded = ctx.services.store.load(run_id)
    if loaded is None:
        raise NotFound("run not found")
    return stream_run(ctx, loaded.record, after)
