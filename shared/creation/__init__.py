"""Creating a subject (a session, a programme) and starting its run: one path for every caller.

An HTTP create route and a trigger event on Pub/Sub both end here, with an
`Origin` saying who asks (tenant, user) and through what. Each workflow that
can be started from outside has one `Creator`: the request model its input is
validated with (the same model, the same bounds, whichever way it arrives)
and the function that writes the subject and its run in one commit, after the
tenant's admission limits (`shared.admission`) said yes.

Ids are deterministic when the origin carries a key (an `Idempotency-Key`, or
a trigger event's id), so a retried request or a redelivered event meets the
first one's documents (`RunExists`) and gets its answer back instead of a
second run.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from shared.engine import LoadedRun, RerunPlan, RunSource, Workflow, Write, registry
from shared.errors import InvalidInput, RunExists
from shared.models.documents import Generation
from shared.services import Services

B = TypeVar("B", bound=BaseModel)
G = TypeVar("G", bound=Generation)


@dataclass(frozen=True)
class Origin:
    """Who asks for a run, and through what: an HTTP request or a trigger event."""

    services: Services
    tenant_id: str
    user_id: str
    source: RunSource = "http"
    # An HTTP request's Idempotency-Key, or a trigger event's id.
    key: str | None = None
    event_name: str | None = None

    @property
    def event_id(self) -> str | None:
        return self.key if self.source == "trigger" else None

    def ids(self, kind: str) -> tuple[str, str]:
        """(documentId, runId) of a create of `kind`: derived from the key when there is one.

        An event's ids differ from an Idempotency-Key's of the same text, and
        from another workflow's ids for the same event.
        """
        if self.key is None:
            return uuid.uuid4().hex, uuid.uuid4().hex
        parts = [self.tenant_id, kind, self.key]
        if self.source == "trigger":
            parts.insert(2, "event")
        seed = "\x00".join(parts).encode()
        document = hashlib.sha256(seed).hexdigest()[:32]
        run = hashlib.sha256(seed + b"\x00run").hexdigest()[:32]
        return document, run

    def admit(self) -> None:
        """The tenant's admission limits; raises `AdmissionRefused` (nothing is written yet)."""
        self.services.admission.admit(self.tenant_id)


@dataclass(frozen=True)
class Created:
    """What a create started (or found already started)."""

    subject_id: str
    run_id: str
    status: str
    location: str
    # A programme's version.
    version: int | None = None
    # The run was there already: a retried request, a redelivered event, or
    # (HTTP only) the programme version already generating, joined.
    existing: bool = False


@dataclass(frozen=True)
class Creator(Generic[B]):
    """How one workflow is started from outside: its request model and its create."""

    workflow: Workflow[Any]
    request: type[B]
    create: Callable[[Origin, B], Created]


_creators: dict[str, Creator[Any]] = {}


def register(creator: Creator[B]) -> Creator[B]:
    _creators[creator.workflow.id] = creator
    return creator


def unregister(workflow_id: str) -> None:
    """Forget a creator (tests that declare a workflow of their own)."""
    _creators.pop(workflow_id, None)


def creator_for(workflow_id: str) -> Creator[Any] | None:
    return _creators.get(workflow_id)


def listening(event_name: str) -> list[Creator[Any]]:
    """The creators of every workflow an event of this name starts, by workflow id."""
    found = (creator_for(w.id) for w in registry.listening(event_name))
    return [creator for creator in found if creator is not None]


def events_of(workflow: Workflow[Any]) -> list[str]:
    """The event names that start `workflow` (none if nothing outside can start it)."""
    return list(workflow.event_names) if creator_for(workflow.id) is not None else []


def started(origin: Origin, model: type[G], run_id: str, now: datetime, **fields: Any) -> G:
    """A new subject document of the origin's: its own `fields`, in progress under run `run_id`."""
    return model.started(
        tenant_id=origin.tenant_id, user_id=origin.user_id, run_id=run_id, now=now, **fields
    )


def start_subject_run(
    origin: Origin,
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
    origin.services.engine.start(
        workflow,
        run_input,
        run_id=run_id,
        tenant_id=origin.tenant_id,
        user_id=origin.user_id,
        subject=subject,
        writes=writes,
        now=now,
        source=origin.source,
        event_id=origin.event_id,
        event_name=origin.event_name,
    )


# -- reruns ---------------------------------------------------------------------


@dataclass(frozen=True)
class Rerunner:
    """How a workflow's run is rerun: a new subject document for the new run.

    A rerun never writes over its source's results: each rerun makes a new
    subject (a new session, the project's next programme version) that names
    the one it regenerated (`rerunOf`). `assigns` are the input fields (python
    names) that `start` sets to the new subject's ids, which a caller may not
    override; `start(origin, plan, subject_id, run_id)` writes the subject
    with the run (`Engine.rerun`) and says what it started.
    """

    workflow: Workflow[Any]
    assigns: tuple[str, ...]
    start: Callable[[Origin, RerunPlan, str, str], Created]
    location: Callable[[str], str]


_rerunners: dict[str, Rerunner] = {}


def register_rerunner(rerunner: Rerunner) -> Rerunner:
    _rerunners[rerunner.workflow.id] = rerunner
    return rerunner


def rerunner_for(workflow_id: str) -> Rerunner | None:
    return _rerunners.get(workflow_id)


def rerun(origin: Origin, source: LoadedRun, from_step: str, overrides: dict[str, Any]) -> Created:
    """Rerun `source` (the caller's own run) from `from_step` with `overrides` of its input.

    Raises Conflict (source not finished), InvalidInput (the request does
    not fit the run, `engine.rerun`), the admission refusals. With an
    Idempotency-Key the ids are fixed, so a retry answers the first rerun.
    """
    workflow_id = source.record.workflow
    rerunner = rerunner_for(workflow_id)
    if rerunner is None:
        raise InvalidInput(f"runs of {workflow_id} cannot be rerun")
    subject_id, run_id = origin.ids(f"rerun:{source.record.run_id}")
    if (first := _rerun_exists(origin, rerunner, source, run_id)) is not None:
        return first
    engine = origin.services.engine
    plan = engine.plan_rerun(source, from_step, overrides, assigned=rerunner.assigns)
    origin.admit()
    try:
        return rerunner.start(origin, plan, subject_id, run_id)
    except RunExists:
        if (first := _rerun_exists(origin, rerunner, source, run_id)) is not None:
            return first
        raise


def _rerun_exists(
    origin: Origin, rerunner: Rerunner, source: LoadedRun, run_id: str
) -> Created | None:
    """The rerun a keyed request already made (a retry), if any."""
    if origin.key is None:
        return None
    found = origin.services.store.load(run_id)
    if found is None:
        return None
    run = found.record
    if run.tenant_id != origin.tenant_id or run.rerun_of != source.record.run_id:
        raise InvalidInput("this Idempotency-Key was already used with another request")
    subject_id = run.subject.rsplit("/", 1)[-1]
    return Created(
        subject_id=subject_id,
        run_id=run.run_id,
        status=run.status.value,
        location=rerunner.location(subject_id),
        existing=True,
    )
