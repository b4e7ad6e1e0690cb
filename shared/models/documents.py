"""Every domain document in Firestore, one model each: what the API and the steps read and write.

A model here is the document as stored (docs/workflows.md has the field
names; `Document` says how loading and writing work), so existing documents
load as they are and no code spells a stored field name in a dict. The API's
answers (`shared.models.api`) are views: built from these by field name
(`projected`), or, for a seed and a day, these minus what only the server
keeps (`SeedView`, `ProgrammeDay`, which these extend; they live beside
their domain models, so the worker imports this module and not the API's
views). Runs are the engine's own documents (`shared.engine.RunRecord`).

| model | path |
|---|---|
| `BrainstormSession`, `Seed` | `brainstormSessions/{id}`, `.../seeds/seed-NN` |
| `ProjectSession`, `Project` | `projectSessions/{id}`, `projects/{id}` |
| `Programme`, `Day` | `programmes/{id}`, `.../days/day-NN` |
| `Operation` | `operations/{id}` |
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import ConfigDict
from pydantic.alias_generators import to_camel

from shared.models.brainstorm import SeedView
from shared.models.common import CamelModel, Document, GenerationStatus
from shared.models.programme import DailyStructure, GeneratedFrom, ProgrammeDay
from shared.models.project import ProjectConcept, ProjectDNA, StoredAnswers

_CAMEL = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class Subject(Document):
    """A document a run produces: the engine sets these fields when the run fails,
    is cancelled or resumes (`workflows.subject.GENERATION_SUBJECT` names them)."""

    model_config = _CAMEL

    generation_status: GenerationStatus
    error: str | None = None
    created_at: datetime
    updated_at: datetime | None = None


class Generation(Subject):
    """A session or a programme: generated for a user by its run, with `aiModel` once done."""

    id: str
    user_id: str
    run_id: str
    ai_model: str | None = None
    # A regenerated document (a rerun, `POST /v1/runs/{runId}/rerun`): the id
    # of the one it regenerated, which keeps its own results.
    rerun_of: str | None = None

    @classmethod
    def started(
        cls, *, tenant_id: str, user_id: str, run_id: str, now: datetime, **fields: Any
    ) -> Self:
        """A new document of this kind, its run `run_id` about to start."""
        return cls(
            tenant_id=tenant_id,
            user_id=user_id,
            generation_status=GenerationStatus.IN_PROGRESS,
            run_id=run_id,
            created_at=now,
            updated_at=now,
            **fields,
        )

    @classmethod
    def completed(cls, ai_model: str, now: datetime, **results: Any) -> dict[str, Any]:
        """The merge with which a workflow's last step marks its subject COMPLETED."""
        return cls.patch(
            generation_status=GenerationStatus.COMPLETED,
            ai_model=ai_model,
            error=None,
            updated_at=now,
            **results,
        )


class BrainstormSession(Generation):
    """What to brainstorm: the request's three fields, stored once (the run names the session)."""

    prompt: str
    creativity_temp: float
    seed_count: int
    idempotency_key: str | None = None


class Seed(SeedView, Document):
    """A generated seed: what `GET` shows, plus its session, place and model."""

    model_config = _CAMEL

    session_id: str
    position: int
    ai_model: str


class ProjectSession(Generation):
    """The idea wizard's answers; `projectId` once its project is saved."""

    answers: StoredAnswers
    project_id: str | None = None
    idempotency_key: str | None = None


class Project(ProjectConcept, Document):
    """A generated project: its concept's fields and what the wizard fixed.

    Its own fields are named as stored, like the concept's (the API shows
    them under the same names).
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str
    userId: str
    sessionId: str
    projectDna: ProjectDNA
    status: str
    erasmusAction: str
    durationDays: int
    participantCount: int
    aiModel: str
    latestProgrammeVersion: int = 0
    latestProgrammeId: str | None = None
    createdAt: datetime
    updatedAt: datetime


class Programme(Generation):
    """Version `version` of a project's programme; its days are `Day` documents."""

    project_id: str
    version: int
    # Editorial: DRAFT, FINAL or ARCHIVED (`programmeStatus` in the API).
    status: str
    generated_from_concept: GeneratedFrom | None = None
    day_count: int | None = None
    session_count: int | None = None
    # The daily structure: for review while AWAITING_REVIEW, then the one the
    # days were generated from (a reviewed programme's, edited or not).
    structure: DailyStructure | None = None


class Day(ProgrammeDay, Document):
    """A programme's day with its sessions, as `GET` shows it (the app's snake_case names)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class PageResult(CamelModel):
    """How one page of a bulk operation went."""

    succeeded: int
    skipped: int


class Operation(Subject):
    """A bulk cancel or resume; its run is `ops.bulk-*` with the same id."""

    operation_id: str
    action: Literal["cancel", "resume"]
    matched: int
    created_by: str
    selected: int | None = None
    page_count: int | None = None
    # Each page's result as it lands, then the totals once finished.
    pages: dict[str, PageResult] | None = None
    succeeded: int | None = None
    skipped: int | None = None
    finished_at: datetime | None = None
