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
from typing import Any

from shared.engine import Write
from shared.errors import Conflict, MalformedRequest, RunExists
from shared.http.context import RequestContext
from shared.http.routing import Reply
from shared.http.subjects import in_progress, owned_document, run_progress, start_subject_run
from shared.models import paths
from shared.models.api import ProgrammeStarted, ProgrammeView
from shared.models.common import GenerationStatus
from shared.models.programme import ProgrammeInput
from shared.workflows.programme import programme_from_concept

ATTEMPTS = 5


def _accepted(programme: dict[str, Any]) -> Reply:
    programme_id = str(programme["id"])
    started = ProgrammeStarted(
        programme_id=programme_id,
        run_id=programme["runId"],
        status=programme["generationStatus"],
        version=programme["version"],
    )
    return Reply(started, {"Location": f"/v1/programmes/{programme_id}"})


def create_programme(ctx: RequestContext, project_id: str) -> Reply:
    raw = ctx.request.get_data(cache=True).strip()
    if raw not in (b"", b"{}"):
        raise MalformedRequest("this route takes no request body (or an empty JSON object)")
    services = ctx.services
    for _ in range(ATTEMPTS):
        project = owned_document(ctx, paths.project(project_id), "project")
        latest = int(project.get("latestProgrammeVersion") or 0)
        if latest:
            current = services.documents.get(
                paths.programme(paths.programme_id_for(project_id, latest))
            )
            if current and current.get("generationStatus") == GenerationStatus.IN_PROGRESS:
                return _accepted(current)
        version = latest + 1
        programme_id = paths.programme_id_for(project_id, version)
        run_id = uuid.uuid4().hex
        now = services.now()
        fields = {
            "id": programme_id,
            "projectId": project_id,
            "version": version,
            "status": "DRAFT",
            "aiModel": None,
        }
        programme = in_progress(ctx, fields, run_id, now)
        writes = [
            Write(path=paths.programme(programme_id), data=programme, mode="create"),
            Write(
                path=paths.project(project_id),
                data={"latestProgrammeVersion": version, "latestProgrammeId": programme_id},
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
            winner = services.documents.get(paths.programme(programme_id))
            if winner and winner.get("generationStatus") == GenerationStatus.IN_PROGRESS:
                return _accepted(winner)
            continue
        return _accepted(programme)
    raise Conflict("the project's programme is changing too quickly; try again")


def get_programme(ctx: RequestContext, programme_id: str) -> ProgrammeView:
    doc = owned_document(ctx, paths.programme(programme_id), "programme")
    days = ctx.services.documents.list(paths.days_of(programme_id), order_by="dayNumber")
    return ProgrammeView.model_validate(
        {
            **doc,
            "programmeId": programme_id,
            "status": doc.get("generationStatus"),
            "programmeStatus": doc.get("status"),
            "days": days,
            "progress": run_progress(ctx, doc.get("runId")),
        }
    )
