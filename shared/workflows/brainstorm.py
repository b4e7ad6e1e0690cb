"""brainstorm.generate-seeds: a prompt in, `seedCount` seeds on the session out."""

from __future__ import annotations

from typing import Any

from shared.engine import StepContext, Workflow, registry
from shared.errors import NonRetriableError
from shared.models import paths
from shared.models.brainstorm import (
    BrainstormInput,
    GeneratedSeeds,
    SavedSeeds,
    SessionUpdated,
    seed_batch_schema,
)
from shared.models.common import GenerationStatus
from shared.models.documents import BrainstormSession, Seed
from shared.workflows import prompts
from shared.workflows.deps import llm
from shared.workflows.subject import GENERATION_SUBJECT

brainstorm: Workflow[BrainstormInput] = Workflow(
    id="brainstorm.generate-seeds",
    input_model=BrainstormInput,
    description="Generate seedCount project seeds for a brainstorm prompt.",
    subject=GENERATION_SUBJECT,
)
registry.register(brainstorm)

Ctx = StepContext[BrainstormInput]


@brainstorm.step("load-session", pure=True, inputs=["session_id"])
def load_session(ctx: Ctx) -> BrainstormSession:
    """The session: what to generate is stored on it alone (the run's input only names it)."""
    doc = ctx.read(paths.brainstorm_session(ctx.input.session_id))
    if doc is None:
        raise NonRetriableError("the brainstorm session no longer exists")
    return BrainstormSession.model_validate(doc)


@brainstorm.step("generate-seeds", inputs=["prompt", "creativity_temp", "seed_count"], writes=False)
def generate_seeds(ctx: Ctx) -> GeneratedSeeds:
    """The session's request, or a rerun's overrides of it (another temperature, say)."""
    session = ctx.output(load_session)
    given = ctx.input
    prompt = session.prompt if given.prompt is None else given.prompt
    seed_count = session.seed_count if given.seed_count is None else given.seed_count
    temperature = session.creativity_temp
    if given.creativity_temp is not None:
        temperature = given.creativity_temp
    generation = llm(ctx).generate(
        seed_batch_schema(seed_count),
        system=prompts.BRAINSTORM_SYSTEM,
        prompt=prompts.brainstorm_prompt(prompt, seed_count),
        temperature=temperature,
    )
    batch: Any = generation.value
    return GeneratedSeeds(seeds=list(batch.seeds), ai_model=generation.model)


@brainstorm.step("save-seeds", inputs=["session_id"])
def save_seeds(ctx: Ctx) -> SavedSeeds:
    generated = ctx.output(generate_seeds)
    session_id = ctx.input.session_id
    seed_ids: list[str] = []
    for index, draft in enumerate(generated.seeds, start=1):
        path = paths.seed(session_id, index)
        seed = Seed(
            **draft.model_dump(),
            id=path.rsplit("/", 1)[1],
            session_id=session_id,
            tenant_id=ctx.tenant_id,
            position=index,
            is_saved=False,
            is_dismissed=False,
            ai_model=generated.ai_model,
            created_at=ctx.now,
        )
        ctx.put(path, seed.stored())
        seed_ids.append(seed.id)
    return SavedSeeds(seed_ids=seed_ids)


@brainstorm.step("update-session", inputs=["session_id"])
def update_session(ctx: Ctx) -> SessionUpdated:
    generated = ctx.output(generate_seeds)
    ctx.merge(
        paths.brainstorm_session(ctx.input.session_id),
        BrainstormSession.completed(generated.ai_model, ctx.now),
    )
    return SessionUpdated(status=GenerationStatus.COMPLETED.value)
