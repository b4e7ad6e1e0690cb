"""programme.generate-from-concept: a project in, a Programme with days and sessions out.

The days are a fan-out: one `generate-day-N` step per day, run concurrently
by the engine, each checkpointed on its own, so a 7-day programme costs about
two LLM latencies and a crash regenerates only the days not yet done.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from shared.engine import StepContext, Workflow, registry
from shared.errors import NonRetriableError
from shared.models import paths
from shared.models.documents import Day, Programme, Project
from shared.models.programme import (
    DaySessions,
    GeneratedDay,
    GeneratedFrom,
    GeneratedStructure,
    LoadedProject,
    ProgrammeInput,
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


@programme_from_concept.step("generate-daily-structure", inputs=[])
def generate_daily_structure(ctx: Ctx) -> GeneratedStructure:
    project = ctx.output(load_project)
    generation = llm(ctx).generate(
        daily_structure_schema(project.duration_days),
        system=prompts.STRUCTURE_SYSTEM,
        prompt=prompts.structure_prompt(project.summary, project.duration_days),
        temperature=STRUCTURE_TEMPERATURE,
    )
    return GeneratedStructure(structure=generation.value, ai_model=generation.model)


def _day_numbers(ctx: Ctx) -> Sequence[int]:
    structure = ctx.output(generate_daily_structure).structure
    return [day.day_number for day in structure.days]


@programme_from_concept.fan_out("generate-day", over=_day_numbers, inputs=[])
def generate_day(ctx: Ctx, day_number: int) -> GeneratedDay:
    project = ctx.output(load_project)
    structure = ctx.output(generate_daily_structure).structure
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
    days = ctx.outputs(generate_day)
    programme_id = ctx.input.programme_id
    if len(days) != len(generated.structure.days):
        raise NonRetriableError("not every day of the programme was generated")
    session_count = 0
    for plan in generated.structure.days:
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
        ),
    )
    return SavedProgramme(programme_id=programme_id, days=len(days), sessions=session_count)
