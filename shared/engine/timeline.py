"""A run as a person (or a polling frontend) reads it: steps in order, progress."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from shared.engine.records import (
    AttemptRecord,
    FailedModel,
    RunRecord,
    RunSource,
    StepStatus,
    TokenUsage,
)
from shared.engine.usage import Usage
from shared.engine.workflow import FanOut, Workflow
from shared.wire import CamelModel, projected

# No docstrings on the published views: a docstring becomes the schema's
# description in the OpenAPI document. Each field of a view is the run
# record's (or step record's) field of that name (`projected`).


class Progress(CamelModel):
    completed_steps: int
    total_steps: int
    current_step: str | None = None


class StepView(CamelModel):
    id: str
    status: str
    attempts: int
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: int | None = None
    error: str | None = None
    # Model tokens over every attempt, and what the latest attempt's answers needed repaired.
    usage: TokenUsage | None = None
    repairs: list[str] = Field(default_factory=list)
    # The model that answered (a fallback's when the primary failed), and the
    # models that failed before it, each with its error.
    model: str | None = None
    failed_models: list[FailedModel] = Field(default_factory=list)
    # The earlier steps whose outputs this step read (its input besides the run's).
    reads: list[str] = Field(default_factory=list)
    # Each attempt (the latest ten): its status (COMPLETED, RETRYING, FAILED,
    # RATE_LIMITED, or LOST when its worker stopped without reporting), start,
    # end, error and model requests (each with its times, tokens and retry).
    history: list[AttemptRecord] = Field(default_factory=list)
    # A rerun's step copied from the run it reran (that run's id): not executed again.
    reused_from: str | None = None


class ResumeView(CamelModel):
    at: datetime
    by: str
    previous_status: str
    previous_error: str | None = None
    operation_id: str | None = None


class WaitView(CamelModel):
    # The wait step, the signal that ends it (none for a sleep), since when,
    # and when its timeout ends it (FAILED, or continuing, as declared).
    step: str
    signal: str | None = None
    since: datetime
    timeout_at: datetime
    on_timeout: str
    # A trigger event of this name whose data field `match` equals `key` is the signal too.
    event: str | None = None
    match: str | None = None
    key: str | None = None


class RunView(CamelModel):
    run_id: str
    workflow: str
    status: str
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    deadline_at: datetime
    error: str | None = None
    # Set while the run waits QUEUED for one of its tenant's slots
    # (TENANT_MAX_ACTIVE_RUNS): since when.
    waiting_for_slot: datetime | None = None
    deliveries: int
    progress: Progress
    steps: list[StepView]
    # Each time the run was resumed after it had failed or been cancelled.
    resumes: list[ResumeView]
    # Tokens and estimated cost of every model call the run made, failed
    # attempts included (zero until an LLM step reported any).
    usage: Usage
    # What started it (`http` or `trigger`), and the trigger event's id and name.
    source: RunSource
    event_id: str | None = None
    event_name: str | None = None
    # The version of the workflow's declaration that started the run (None:
    # started before versions were recorded); a later deploy may continue it
    # on a newer one (docs/architecture.md, "Deploys and reruns").
    workflow_version: str | None = None
    # The run this one reran (from step `rerunFrom`), and the reruns made of this one.
    rerun_of: str | None = None
    rerun_from: str | None = None
    reruns: list[str] = Field(default_factory=list)
    # The run's W3C trace id (32 hex): every delivery, step and model call
    # of the run is a span of this trace (docs/operations.md, "Traces").
    trace_id: str | None = None
    # Set while the run is WAITING: what for, and until when.
    wait: WaitView | None = None


def _step_ids(run: RunRecord, workflow: Workflow[Any] | None) -> list[str]:
    """Known step ids in order; declared steps not reached yet follow as PENDING.

    A fan-out whose items are not decided yet shows as its template id.
    """
    ids = list(run.step_order)
    if workflow is None:
        return ids
    for stage in workflow.stages:
        if isinstance(stage, FanOut):
            if not any(stage.item_of(s) is not None for s in ids):
                ids.append(f"{stage.id}-{{n}}")
        elif stage.id not in ids:
            ids.append(stage.id)

    def rank(step_id: str) -> int:
        try:
            stage = workflow.stage_of(step_id)
        except KeyError:
            return len(workflow.stages)
        return workflow.stages.index(stage)

    return sorted(ids, key=rank)  # stable: keeps fan-out items in their order


def step_views(run: RunRecord, workflow: Workflow[Any] | None) -> list[StepView]:
    views: list[StepView] = []
    for step_id in _step_ids(run, workflow):
        record = run.steps.get(step_id)
        if record is None:
            views.append(StepView(id=step_id, status="PENDING", attempts=0))
            continue
        views.append(projected(StepView, record, id=step_id))
    return views


def progress(run: RunRecord, workflow: Workflow[Any] | None) -> Progress:
    return _progress_of(run, step_views(run, workflow))


def _progress_of(run: RunRecord, views: list[StepView]) -> Progress:
    done = sum(1 for v in views if v.status == StepStatus.COMPLETED.value)
    current = None
    if not run.status.terminal:
        current = next((v.id for v in views if v.status != StepStatus.COMPLETED.value), None)
    return Progress(completed_steps=done, total_steps=len(views), current_step=current)


def run_view(run: RunRecord, workflow: Workflow[Any] | None) -> RunView:
    steps = step_views(run, workflow)
    return projected(
        RunView,
        run,
        progress=_progress_of(run, steps),
        steps=steps,
        resumes=[projected(ResumeView, r) for r in run.resumes],
        wait=None if run.wait is None else projected(WaitView, run.wait),
    )
