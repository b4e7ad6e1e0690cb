"""programme.generate-from-concept from outside: the project's next programme version and its run.

Which create starts version n of a project's programme is decided by
creating the document `<projectId>-v<n>`: the create and the run commit
together or not at all, so of two racing creates exactly one starts a run.
(A Firestore transaction would decide the same but retries under contention
without backoff; a create precondition cannot livelock.) An HTTP create
joins the version already generating; a trigger event does not (its result
would never name the event), it is refused with a `Conflict` instead.
"""

from __future__ import annotations

from datetime import datetime

from shared.creation import (
    Created,
    Creator,
    Origin,
    Rerunner,
    register,
    register_rerunner,
    start_subject_run,
    started,
)
from shared.engine import RerunPlan, Write
from shared.errors import AdmissionRefused, Conflict, NotFound, RunExists
from shared.models import paths
from shared.models.common import GenerationStatus
from shared.models.documents import Programme, Project
from shared.models.programme import CreateProgramme, ProgrammeInput
from shared.workflows.programme import programme_from_concept

ATTEMPTS = 5
# A version still being generated: a new create joins it (HTTP) or is refused (trigger).
GENERATING = (GenerationStatus.IN_PROGRESS, GenerationStatus.AWAITING_REVIEW)


def _location(programme_id: str) -> str:
    return f"/v1/programmes/{programme_id}"


def _created(programme: Programme, existing: bool) -> Created:
    return Created(
        subject_id=programme.id,
        run_id=programme.run_id,
        status=programme.generation_status.value,
        location=_location(programme.id),
        version=programme.version,
        existing=existing,
    )


def _ours(origin: Origin, run_id: str) -> Created | None:
    """The programme our own deterministic run started earlier (a redelivered event)."""
    if origin.key is None:
        return None
    loaded = origin.services.store.load(run_id)
    if loaded is None or loaded.record.tenant_id != origin.tenant_id:
        return None
    programme = origin.services.documents.get(loaded.record.subject, Programme)
    return None if programme is None else _created(programme, existing=True)


def _generating(origin: Origin, programme: Programme, run_id: str) -> Created:
    """The version generating now: ours (a redelivery), joined (HTTP), or refused (trigger)."""
    if programme.run_id == run_id or origin.source == "http":
        return _created(programme, existing=True)
    raise Conflict(
        f"the project's programme version {programme.version} is already generating "
        f"(run {programme.run_id}); publish again once it has finished"
    )


def _next_version(
    origin: Origin,
    project_id: str,
    version: int,
    run_id: str,
    now: datetime,
    rerun_of: str | None = None,
) -> tuple[Programme, list[Write]]:
    """Programme version n of the project, and the writes that claim it.

    Creating `<projectId>-v<n>` is what decides which request starts version
    n (a create, or a rerun); the project then points at it.
    """
    programme_id = paths.programme_id_for(project_id, version)
    programme = started(
        origin,
        Programme,
        run_id,
        now,
        id=programme_id,
        project_id=project_id,
        version=version,
        status="DRAFT",
        ai_model=None,
        rerun_of=rerun_of,
    )
    writes = [
        Write(path=paths.programme(programme_id), data=programme.stored(), mode="create"),
        Write(
            path=paths.project(project_id),
            data=Project.patch(latestProgrammeVersion=version, latestProgrammeId=programme_id),
            mode="merge",
        ),
    ]
    return programme, writes


def create_programme(origin: Origin, body: CreateProgramme) -> Created:
    services = origin.services
    documents = services.documents
    project_id = body.project_id
    _, run_id = origin.ids("programme")
    admitted = False
    for _ in range(ATTEMPTS):
        project = documents.get(paths.project(project_id), Project)
        if project is None or project.tenant_id != origin.tenant_id:
            raise NotFound("project not found")
        latest = project.latestProgrammeVersion
        if latest:
            current = documents.get(
                paths.programme(paths.programme_id_for(project_id, latest)), Programme
            )
            if current and current.generation_status in GENERATING:
                return _generating(origin, current, run_id)
        if not admitted:
            try:
                origin.admit()
            except AdmissionRefused:
                if (ours := _ours(origin, run_id)) is not None:
                    return ours
                raise
            admitted = True
        now = services.now()
        programme, writes = _next_version(origin, project_id, latest + 1, run_id, now)
        programme_id = programme.id
        try:
            start_subject_run(
                origin,
                workflow=programme_from_concept,
                run_input=ProgrammeInput(
                    programme_id=programme_id,
                    project_id=project_id,
                    review=body.review,
                    review_timeout_seconds=(
                        services.settings.review_timeout_seconds if body.review else None
                    ),
                ),
                run_id=run_id,
                subject=paths.programme(programme_id),
                now=now,
                writes=writes,
            )
        except RunExists:
            if (ours := _ours(origin, run_id)) is not None:
                return ours
            # Another create took version n first: join it if it is still running.
            winner = documents.get(paths.programme(programme_id), Programme)
            if winner and winner.generation_status in GENERATING:
                return _generating(origin, winner, run_id)
            continue
        return _created(programme, existing=False)
    raise Conflict("the project's programme is changing too quickly; try again")


PROGRAMME = register(Creator(programme_from_concept, CreateProgramme, create_programme))


def rerun_programme(origin: Origin, plan: RerunPlan, _: str, run_id: str) -> Created:
    """The project's next programme version, generated by the rerun; the source's version stays.

    As a create, which request starts version n is decided by creating
    `<projectId>-v<n>`; unlike an HTTP create, a rerun does not join a
    version generating now (it asked for something else): 409.
    """
    services = origin.services
    documents = services.documents
    given = ProgrammeInput.model_validate(plan.run_input.model_dump())
    project_id = given.project_id
    source_id = plan.source.subject.rsplit("/", 1)[-1]
    for _attempt in range(ATTEMPTS):
        project = documents.get(paths.project(project_id), Project)
        if project is None or project.tenant_id != origin.tenant_id:
            raise Conflict("the run's project no longer exists")
        latest = project.latestProgrammeVersion
        if latest:
            current = documents.get(
                paths.programme(paths.programme_id_for(project_id, latest)), Programme
            )
            if current and current.generation_status == GenerationStatus.IN_PROGRESS:
                raise Conflict(
                    f"the project's programme version {latest} is generating "
                    f"(run {current.run_id}); rerun once it has finished"
                )
        now = services.now()
        programme, writes = _next_version(
            origin, project_id, latest + 1, run_id, now, rerun_of=source_id
        )
        programme_id = programme.id
        try:
            services.engine.rerun(
                plan,
                given.model_copy(update={"programme_id": programme_id}),
                run_id=run_id,
                user_id=origin.user_id,
                subject=paths.programme(programme_id),
                writes=writes,
                now=now,
            )
        except RunExists:
            if services.store.load(run_id) is not None:
                raise  # this very rerun, made before (a retried request)
            continue  # another create took version n first: decide again
        return _created(programme, existing=False)
    raise Conflict("the project's programme is changing too quickly; try again")


PROGRAMME_RERUN = register_rerunner(
    Rerunner(
        programme_from_concept,
        assigns=("programme_id",),
        start=rerun_programme,
        location=_location,
    )
)
