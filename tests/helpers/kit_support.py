"""Runs the workflow test kit tests start from: a project generated from the wizard's answers."""

from __future__ import annotations

from datetime import UTC, datetime

from devtools.samples import WIZARD_ANSWERS
from shared.engine.testing import EngineHarness, Finished
from shared.models import paths
from shared.models.project import ProjectInput
from shared.workflows.project import project_from_idea

KIT_TENANT = "org-a"
KIT_USER = "user-1"
KIT_CREATED = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def generate_project(harness: EngineHarness, run_id: str = "run-project") -> Finished:
    """Run `project-from-idea` to its end for session-p, writing project-1."""
    session = paths.project_session("session-p")
    harness.start(
        project_from_idea,
        ProjectInput(session_id="session-p", project_id="project-1"),
        run_id=run_id,
        tenant=KIT_TENANT,
        documents={
            session: {
                "id": "session-p",
                "answers": WIZARD_ANSWERS,
                "tenantId": KIT_TENANT,
                "userId": KIT_USER,
                "generationStatus": "IN_PROGRESS",
                "runId": run_id,
                "createdAt": KIT_CREATED,
                "updatedAt": KIT_CREATED,
            }
        },
    )
    return harness.run_to_end(run_id)
