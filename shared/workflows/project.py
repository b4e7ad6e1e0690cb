"""project.generate-from-idea: wizard answers in, a Project (concept + DNA) out."""

from __future__ import annotations

from datetime import timedelta

from shared.engine import StepContext, Workflow, registry
from shared.errors import NonRetriableError
from shared.models import paths
from shared.models.common import GenerationStatus
from shared.models.documents import Project, ProjectSession
from shared.models.project import (
    ExtractedDNA,
    GeneratedConcept,
    ProjectDNA,
    ProjectInput,
    ProjectSessionUpdated,
    SavedProject,
    concept_schema,
)
from shared.workflows import prompts
from shared.workflows.deps import llm
from shared.workflows.subject import GENERATION_SUBJECT

DNA_TEMPERATURE = 0.3
CONCEPT_TEMPERATURE = 0.8

project_from_idea: Workflow[ProjectInput] = Workflow(
    id="project.generate-from-idea",
    input_model=ProjectInput,
    description="Turn the idea wizard's answers into a project concept.",
    deadline=timedelta(minutes=20),
    subject=GENERATION_SUBJECT,
)
registry.register(project_from_idea)

Ctx = StepContext[ProjectInput]


@project_from_idea.step("load-session", pure=True, inputs=["session_id"])
def load_session(ctx: Ctx) -> ProjectSession:
    """The session: the wizard's answers are stored on it alone (the run's input names it)."""
    doc = ctx.read(paths.project_session(ctx.input.session_id))
    if doc is None:
        raise NonRetriableError("the project session no longer exists")
    return ProjectSession.model_validate(doc)


@project_from_idea.step("extract-dna", inputs=[], writes=False)
def extract_dna(ctx: Ctx) -> ExtractedDNA:
    answers = ctx.output(load_session).answers
    generation = llm(ctx).generate(
        ProjectDNA,
        system=prompts.DNA_SYSTEM,
        prompt=prompts.dna_prompt(answers.model_dump_json(exclude_none=True)),
        temperature=DNA_TEMPERATURE,
    )
    return ExtractedDNA(dna=generation.value, ai_model=generation.model)


@project_from_idea.step("generate-concept", inputs=[], writes=False)
def generate_concept(ctx: Ctx) -> GeneratedConcept:
    answers = ctx.output(load_session).answers
    dna = ctx.output(extract_dna).dna
    generation = llm(ctx).generate(
        concept_schema(answers.duration_days),
        system=prompts.CONCEPT_SYSTEM,
        prompt=prompts.concept_prompt(
            dna.model_dump_json(),
            answers.model_dump_json(exclude_none=True),
            answers.duration_days,
        ),
        temperature=CONCEPT_TEMPERATURE,
    )
    return GeneratedConcept(concept=generation.value, ai_model=generation.model)


@project_from_idea.step("save-project", inputs=["project_id", "session_id"])
def save_project(ctx: Ctx) -> SavedProject:
    answers = ctx.output(load_session).answers
    dna = ctx.output(extract_dna).dna
    generated = ctx.output(generate_concept)
    project_id = ctx.input.project_id
    project = Project(
        **generated.concept.model_dump(exclude_none=True),
        id=project_id,
        tenant_id=ctx.tenant_id,
        userId=ctx.user_id,
        sessionId=ctx.input.session_id,
        projectDna=dna,
        status="CONCEPT",
        erasmusAction="KA1-Youth-Exchange",
        durationDays=answers.duration_days,
        participantCount=answers.participant_count,
        aiModel=generated.ai_model,
        latestProgrammeVersion=0,
        createdAt=ctx.now,
        updatedAt=ctx.now,
    )
    ctx.put(paths.project(project_id), project.stored())
    return SavedProject(project_id=project_id)


@project_from_idea.step("update-session", inputs=["session_id", "project_id"])
def update_session(ctx: Ctx) -> ProjectSessionUpdated:
    generated = ctx.output(generate_concept)
    ctx.merge(
        paths.project_session(ctx.input.session_id),
        ProjectSession.completed(generated.ai_model, ctx.now, project_id=ctx.input.project_id),
    )
    return ProjectSessionUpdated(status=GenerationStatus.COMPLETED.value)
