"""What the API answers: the response bodies, as the OpenAPI document publishes them.

Handlers build these models, so the published schema is the shape that is
sent. A field that may be absent defaults to None and is left out of the
JSON when it is (`exclude_none`). Stored documents are read into the views
with `extra="ignore"`, so internal fields (`tenantId`) never leave.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.engine import Progress
from shared.models.brainstorm import SeedView
from shared.models.common import CamelModel, GenerationStatus, RequestModel
from shared.models.programme import DailyStructure, GeneratedFrom, ProgrammeDay
from shared.models.project import ProjectConcept, ProjectDNA, StoredAnswers


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] | None = None


class ErrorBody(BaseModel):
    """Every 4xx and 5xx: `{"error": {"code", "message", "details"?}}`."""

    error: ErrorInfo


class Health(BaseModel):
    status: str


class LiveItem(CamelModel):
    """An item a streaming step produced, before its subject is COMPLETED."""

    step: str
    attempt: int
    index: int
    item: Any
    provisional: bool = Field(
        description="True until the step commits; a `reset` event may still withdraw it."
    )


LIVE_ITEMS = (
    "While IN_PROGRESS: the items streamed so far (docs/api.md, 'Live output'); "
    "empty once the subject is COMPLETED (its own fields hold them then)."
)


class SessionStarted(CamelModel):
    session_id: str
    run_id: str
    status: GenerationStatus


class BrainstormSessionView(CamelModel):
    session_id: str
    run_id: str
    status: GenerationStatus
    prompt: str
    creativity_temp: float
    seed_count: int
    ai_model: str | None = None
    created_at: datetime
    updated_at: datetime
    seeds: list[SeedView] = Field(description="Empty until the session is COMPLETED.")
    live_items: list[LiveItem] = Field(default_factory=list, description=LIVE_ITEMS)
    progress: Progress | None = None
    error: str | None = None
    rerun_of: str | None = Field(
        default=None, description="The one this regenerated (a rerun made this one)"
    )


class ProjectSessionView(CamelModel):
    session_id: str
    run_id: str
    status: GenerationStatus
    answers: StoredAnswers
    project_id: str | None = None
    ai_model: str | None = None
    created_at: datetime
    updated_at: datetime
    live_items: list[LiveItem] = Field(default_factory=list, description=LIVE_ITEMS)
    progress: Progress | None = None
    error: str | None = None
    rerun_of: str | None = Field(
        default=None, description="The one this regenerated (a rerun made this one)"
    )


class ProjectView(ProjectConcept):
    """The project: its concept's fields (docs/workflows.md's names) and what the wizard fixed."""

    model_config = ConfigDict(extra="ignore")

    projectId: str
    id: str
    sessionId: str
    userId: str
    projectDna: ProjectDNA
    status: str
    erasmusAction: str
    durationDays: int
    participantCount: int
    aiModel: str
    latestProgrammeVersion: int
    latestProgrammeId: str | None = None
    createdAt: datetime
    updatedAt: datetime


class ProgrammeStarted(CamelModel):
    programme_id: str
    run_id: str
    status: GenerationStatus
    version: int


class ProgrammeView(CamelModel):
    programme_id: str
    project_id: str
    run_id: str
    version: int
    status: GenerationStatus
    programme_status: str = Field(description="Editorial status: DRAFT, FINAL or ARCHIVED.")
    ai_model: str | None = None
    generated_from_concept: GeneratedFrom | None = None
    created_at: datetime
    updated_at: datetime
    days: list[ProgrammeDay]
    live_items: list[LiveItem] = Field(default_factory=list, description=LIVE_ITEMS)
    progress: Progress | None = None
    error: str | None = None
    rerun_of: str | None = Field(
        default=None, description="The one this regenerated (a rerun made this one)"
    )
    # The daily structure (snake_case, as the days): while AWAITING_REVIEW the one to
    # review; the `structure` a `review` signal approves has this shape.
    structure: DailyStructure | None = None


class RunCancelled(CamelModel):
    run_id: str
    status: str


class SignalPayload(BaseModel):
    """The signal's payload: a JSON object, checked against the model the run's wait declares
    (422 if it does not fit). The programme review's is `ReviewDecision`."""

    model_config = ConfigDict(extra="allow")


class SignalDelivered(CamelModel):
    run_id: str
    signal: str
    status: str = Field(description="QUEUED (the run continues) or CANCELLED (its wait said so)")


class RunResumed(CamelModel):
    run_id: str
    status: str


class StepOutput(CamelModel):
    id: str
    status: str
    # The output as the step committed it (after any repairs: see the run
    # view's `repairs`); absent until the step has completed.
    output: Any = None
    # Its size as stored (UTF-8 bytes of its JSON).
    output_bytes: int = 0
    # The earlier steps whose outputs this step read (its input besides the run's).
    reads: list[str] = Field(default_factory=list)


class RunOutputs(CamelModel):
    run_id: str
    # The run's input as it was created.
    input: dict[str, Any]
    # Every step with a record, in the run's step order.
    steps: list[StepOutput]


class RerunRequest(RequestModel):
    from_step: str = Field(
        min_length=1,
        max_length=200,
        description=(
            "The step to rerun from: a step id, a fan-out's id (all its items) or one "
            "item (generate-day-3: that day only). Completed steps before it are reused."
        ),
    )
    input: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Overrides of the run's input (camelCase), validated by the workflow's input "
            "model; a field a reused step consumed cannot be overridden (422 names it)"
        ),
    )


class RerunStarted(CamelModel):
    run_id: str
    rerun_of: str
    from_step: str
    workflow: str
    status: str
    subject_id: str = Field(
        description="The new session or programme the rerun generates (the source's stays)"
    )
    version: int | None = Field(default=None, description="A programme's new version")


class FunctionView(CamelModel):
    id: str
    description: str
    steps: list[str]
    deadline_seconds: int
    events: list[str] = Field(
        description="Trigger event names that start it (empty: only the API starts it)"
    )
    version: str = Field(
        description="A hash of its declaration (step ids and order, fan-outs, output schemas)"
    )


class FunctionList(BaseModel):
    functions: list[FunctionView]
