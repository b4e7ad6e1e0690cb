"""programme.generate-from-concept: a project in, a Programme with days and sessions out.

The days are a fan-out: one `generate-day-N` step per day, run concurrently
by the engine, each checkpointed on its own, so a 7-day programme costs about
two LLM latencies and a crash regenerates only the days not yet done.

Created with `review: true`, the run waits after the daily structure (step
`review`, signal `review`): the programme shows AWAITING_REVIEW with its
structure, and no day is paid for until a planner approves it (edited or
not); a rejection ends the run CANCELLED, no answer within the review
timeout FAILED. Without it the wait is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from shared.engine import StepContext, Workflow, registry
from shared.errors import NonRetriableError
from shared.models import paths
from shared.models.common import GenerationStatus
from shared.models.documents import Day, Programme, Project
from shared.models.programme import (
    DailyStructure,
    DaySessions,
    GeneratedDay,
    GeneratedFrom,
    GeneratedStructure,
    LoadedProject,
    ProgrammeInput,
    ReviewDecision,
    SavedProgramme,
    ScheduledSession,
    daily_structure_schema,
)
from shared.workflows import prompts
from shared.workflows.deps import llm
from shared.workflows.subject import GENERATION_SUBJECT

STRUCTURE_TEMPERATURE = 0.7
DAY_TEMPERATURE = 0.8

programme_from_concept: Workflow[ProgrammeInput] = Workflow(
    id="programme.generate-from-concept",
    input_model=ProgrammeInput,
    description="Generate a day-by-day programme for a project, days in parallel.",
    deadline=timedelta(minutes=30),
    subject=GENERATION_SUBJECT,
)
registry.register(programme_from_concept)

Ctx = StepContext[ProgrammeInput]


def _summary(project: Project) -> str:
    objectives = "; ".join(o.text for o in project.objectives)
    return (
        f"Title: {project.title}\nTagline: {project.tagline}\n"
        f"Participants: {project.participantCount}\nObjectives: {objectives}\n"
        f"Target group: {project.targetGroupDescription}"
    )[:4000]


@programme_from_concept.step("load-project", pure=True, inputs=["project_id"])
def load_project(ctx: Ctx) -> LoadedProject:
    """What the prompts need of the project: a digest, not the whole (large) document."""
    doc = ctx.read(paths.project(ctx.input.project_id))
    project = None if doc is None else Project.model_validate(doc)
    if project is None or project.tenant_id != ctx.tenant_id:
        raise NonRetriableError("the project no longer exists")
    return LoadedProject(
        title=project.title,
        tagline=project.tagline,
        duration_days=project.durationDays,
        participant_count=project.participantCount,
        summary=_summary(project),
    )


@programme_from_concept.step("generate-daily-structure", inputs=[], writes=False)
def generate_daily_structure(ctx: Ctx) -> GeneratedStructure:
    project = ctx.output(load_project)
    generation = llm(ctx).generate(
        daily_structure_schema(project.duration_days),
        system=prompts.STRUCTURE_SYSTEM,
        prompt=prompts.structure_prompt(project.summary, project.duration_days),
        temperature=STRUCTURE_TEMPERATURE,
    )
    return GeneratedStructure(structure=generation.value, ai_model=generation.model)


# The review's signal, and the trigger event that may carry it instead (its
# `data.programmeId` names the programme).
REVIEW_SIGNAL = "review"
REVIEW_EVENT = "programme.review"


def _awaiting_review(ctx: Ctx) -> None:
    """Committed with the park: the programme shows the structure it waits on."""
    ctx.merge(
        paths.programme(ctx.input.programme_id),
        Programme.patch(
            generation_status=GenerationStatus.AWAITING_REVIEW,
            structure=ctx.output(generate_daily_structure).structure,
            updated_at=ctx.now,
        ),
    )


def _review_timeout(ctx: Ctx) -> timedelta:
    return timedelta(seconds=ctx.input.review_timeout_seconds or 7 * 24 * 3600)


def _timeout_error(ctx: Ctx) -> str:
    seconds = ctx.input.review_timeout_seconds or 7 * 24 * 3600
    span = f"{seconds // 86400} days" if seconds % 86400 == 0 else f"{seconds} seconds"
    return f"review timed out: no approval or rejection within {span} (REVIEW_TIMEOUT_SECONDS)"


def _same_days(ctx: Ctx, decision: ReviewDecision) -> None:
    """An edited structure keeps the programme's number of days (the bounds are the model's)."""
    if decision.structure is None:
        return
    wanted = ctx.output(load_project).duration_days
    got = len(decision.structure.days)
    if got != wanted:
        raise ValueError(f"structure.days: the programme has {wanted} days, not {got}")


def _rejected(decision: ReviewDecision) -> str | None:
    return "rejected in review" if decision.decision == "reject" else None


def _review_key(ctx: Ctx) -> str:
    return ctx.input.programme_id


def _reviewing(ctx: Ctx) -> bool:
    return ctx.input.review


review = programme_from_concept.wait_for_signal(
    "review",
    signal=REVIEW_SIGNAL,
    output=ReviewDecision,
    timeout=_review_timeout,
    timeout_error=_timeout_error,
    when=_reviewing,
    on_wait=_awaiting_review,
    check=_same_days,
    cancel_if=_rejected,
    event=REVIEW_EVENT,
    match="programmeId",
    key=_review_key,
)


def _structure(ctx: StepContext[Any]) -> DailyStructure:
    """The structure the days are generated from: the approved (maybe edited) one, if reviewed."""
    decision = ctx.signal(review)
    if decision is not None and decision.structure is not None:
        return decision.structure
    return ctx.output(generate_daily_structure).structure


def _day_numbers(ctx: Ctx) -> Sequence[int]:
    return [day.day_number for day in _structure(ctx).days]


@programme_from_concept.fan_out("generate-day", over=_day_numbers, inputs=[], writes=False)
def generate_day(ctx: Ctx, day_number: int) -> GeneratedDay:
    project = ctx.output(load_project)
    structure = _structure(ctx)
    plan = next(d for d in structure.days if d.day_number == day_number)
    generation = llm(ctx).generate(
        DaySessions,
        system=prompts.DAY_SYSTEM,
        prompt=prompts.day_prompt(project.summary, plan.model_dump_json()),
        temperature=DAY_TEMPERATURE,
    )
    return GeneratedDay(
        day_number=day_number, sessions=generation.value.sessions, ai_model=generation.model
    )


@programme_from_concept.step("save-programme", inputs=["programme_id"])
def save_programme(ctx: Ctx) -> SavedProgramme:
    project = ctx.output(load_project)
    generated = ctx.output(generate_daily_structure)
    structure = _structure(ctx)
    days = ctx.outputs(generate_day)
    programme_id = ctx.input.programme_id
    if len(days) != len(structure.days):
        raise NonRetriableError("not every day of the programme was generated")
    session_count = 0
    for plan in structure.days:
        ordered = sorted(days[plan.day_number].sessions, key=lambda s: s.start_time)
        day = Day(
            **plan.model_dump(),
            programme_id=programme_id,
            tenant_id=ctx.tenant_id,
            sessions=[
                ScheduledSession(position=i, **s.model_dump()) for i, s in enumerate(ordered, 1)
            ],
        )
        session_count += len(day.sessions)
        ctx.put(paths.day(programme_id, plan.day_number), day.stored())
    ctx.merge(
        paths.programme(programme_id),
        Programme.completed(
            generated.ai_model,
            ctx.now,
            generated_from_concept=GeneratedFrom(
                project_title=project.title,
                duration_days=project.duration_days,
                generated_at=ctx.now,
            ),
            day_count=len(days),
            session_count=session_count,
            structure=structure,
        ),
    )
    return SavedProgramme(programme_id=programme_id, days=len(days), sessions=session_count)
