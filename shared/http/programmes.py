"""/v1/projects/{projectId}/programme and /v1/programmes/{programmeId}.

Which request starts version n of a project's programme is decided by
creating the document `<projectId>-v<n>`: the create and the run commit
together or not at all, so of two racing requests exactly one starts a run
and the other joins it. (A Firestore transaction would decide the same but
retries under contention without backoff; a create precondition cannot
livelock.)
"""

from __future__ import annotations

import uuid

from shared.engine import Write
from shared.errors import Conflict, MalformedRequest, RunExists
from shared.http.context import RequestContext
from shared.http.routing import Reply
from shared.http.subjects import owned_document, run_progress, start_subject_run, started
from shared.models import paths
from shared.models.api import ProgrammeStarted, ProgrammeView
from shared.models.common import GenerationStatus, projected
from shared.models.documents import Day, Programme, Project
from shared.models.programme import ProgrammeInput
from shared.workflows.programme import programme_from_concept

ATTEMPTS = 5


def _accepted(programme: Programme) -> Reply:
    accepted = ProgrammeStarted(
        programme_id=programme.id,
        run_id=programme.run_id,
        status=programme.generation_status,
        version=programme.version,
    )
    return Reply(accepted, {"Location": f"/v1/programmes/{programme.id}"})


def create_programme(ctx: RequestContext, project_id: str) -> Reply:
    raw = ctx.request.get_data(cache=True).strip()
    if raw not in (b"", b"{}"):
        raise MalformedRequest("this route takes no request body (or an empty JSON object)")
    services = ctx.services
    for _ in range(ATTEMPTS):
        project = owned_document(ctx, paths.project(project_id), Project, "project")
        latest = project.latestProgrammeVersion
        if latest:
            current = services.documents.get(
                paths.programme(paths.programme_id_for(project_id, latest)), Programme
            )
            if current and current.generation_status == GenerationStatus.IN_PROGRESS:
                return _accepted(current)
        version = latest + 1
        programme_id = paths.programme_id_for(project_id, version)
        run_id = uuid.uuid4().hex
        now = services.now()
        programme = started(
            ctx,
            Programme,
            run_id,
            now,
            id=programme_id,
            project_id=project_id,
            version=version,
            status="DRAFT",
            ai_model=None,
        )
        writes = [
            Write(path=paths.programme(programme_id), data=programme.stored(), mode="create"),
            Write(
                path=paths.project(project_id),
                data=Project.patch(latestProgrammeVersion=version, latestProgrammeId=programme_id),
                mode="merge",
            ),
        ]
        try:
            start_subject_run(
                ctx,
                workflow=programme_from_concept,
                run_input=ProgrammeInput(programme_id=programme_id, project_id=project_id),
                run_id=run_id,
                subject=paths.programme(programme_id),
                now=now,
                writes=writes,
            )
        except RunExists:
            # Another request created version n first: join it if it is still running.
            winner = services.documents.get(paths.programme(programme_id), Programme)
            if winner and winner.generation_status == GenerationStatus.IN_PROGRESS:
                return _accepted(winner)
            continue
        return _accepted(programme)
    raise Conflict("the project's programme is changing too quickly; try again")


def get_programme(ctx: RequestContext, programme_id: str) -> ProgrammeView:
    programme = owned_document(ctx, paths.programme(programme_id), Programme, "programme")
    days = ctx.services.documents.list(paths.days_of(programme_id), Day, "day_number")
    return projected(
        ProgrammeView,
        programme,
        programme_id=programme_id,
        status=programme.generation_status,
        programme_status=programme.status,
        days=days,
        progress=run_progress(ctx, programme.run_id),
    )
