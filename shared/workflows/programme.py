"""programme.generate-from-concept: a project in, a Programme with days and sessions out.

The days are a fan-out: one `generate-day-N` step per day, run concurrently
by the engine, each checkpointed on its own, so a 7-day programme costs about
two LLM latencies and a crash regenerates only the days not yet done.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from shared.engine import StepContext, Workflow, registry
from shared.errors import NonRetriableError
from shared.models import paths
from shared.models.common import GenerationStatus
from shared.models.programme import (
    DaySessions,
    GeneratedDay,
    GeneratedStructure,
    LoadedProject,
    ProgrammeInput,
    SavedProgramme,
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


def _summary(project: dict[str, Any]) -> str:
    objectives = "; ".join(str(o.get("text", "")) for o in project.get("objectives") or [])
    return (
        f"Title: {project.get('title')}\nTagline: {project.get('tagline')}\n"
        f"Participants: {project.get('participantCount')}\nObjectives: {objectives}\n"
        f"Target group: {project.get('targetGroupDescription', '')}"
    )[:4000]


@programme_from_concept.step("load-project", pure=True)
def load_project(ctx: Ctx) -> LoadedProject:
    project = ctx.read(paths.project(ctx.input.project_id))
    if project is None or project.get("tenantId") != ctx.tenant_id:
        raise NonRetriableError("the project no longer exists")
    return LoadedProject(
        title=str(project.get("title", "")),
        tagline=str(project.get("tagline", "")),
        duration_days=int(project["durationDays"]),
        participant_count=int(project.get("participantCount", 0)),
        summary=_summary(project),
    )


@programme_from_concept.step("generate-daily-structure")
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


@programme_from_concept.fan_out("generate-day", over=_day_numbers)
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


@programme_from_concept.step("save-programme")
def save_programme(ctx: Ctx) -> SavedProgramme:
    project = ctx.output(load_project)
    generated = ctx.output(generate_daily_structure)
    days = ctx.outputs(generate_day)
    programme_id = ctx.input.programme_id
    if len(days) != len(generated.structure.days):
        raise NonRetriableError("not every day of the programme was generated")
    session_count = 0
    for plan in generated.structure.days:
        day = days[plan.day_number]
        sessions = [
            {"position": i, **s.model_dump(mode="json")}
            for i, s in enumerate(sorted(day.sessions, key=lambda s: s.start_time), start=1)
        ]
        session_count += len(sessions)
        ctx.put(
            paths.day(programme_id, plan.day_number),
            {
                "dayNumber": plan.day_number,
                "programmeId": programme_id,
                "tenantId": ctx.tenant_id,
                **plan.model_dump(mode="json", exclude={"day_number"}),
                "sessions": sessions,
            },
        )
    ctx.merge(
        paths.programme(programme_id),
        {
            "generationStatus": GenerationStatus.COMPLETED.value,
            "aiModel": generated.ai_model,
            "generatedFromConcept": {
                "projectTitle": project.title,
                "durationDays": project.duration_days,
                "generatedAt": ctx.now,
            },
            "dayCount": len(days),
            "sessionCount": session_count,
            "error": None,
            "updatedAt": ctx.now,
        },
    )
    return SavedProgramme(programme_id=programme_id, days=len(days), sessions=session_count)
