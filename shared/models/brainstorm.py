"""brainstorm.generate-seeds: the request, the run input, the LLM's answer, the steps' outputs.

Bounds are docs/workflows.md's (tags, which REFERENCE.md leaves unbounded,
are ours: at most 10 of at most 50 characters). The LLM answer models are also the structured
output schema sent to the model, so a bound here is a bound the model is
asked to respect and is checked against on the way back; the repairs
declared here (`shared.llm.repair`) fix the sloppy answers that need no
new call.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model
from pydantic.alias_generators import to_camel

from shared.llm.repair import Capped, DropDuplicates
from shared.models.common import CamelModel, RequestModel, WholeNumber

# A seed's tags: REFERENCE.md says only "list of strings"; these caps keep a
# seed (and so the batch's checkpoint) bounded.
MAX_TAGS = 10
Tag = Annotated[str, Capped(50)]

Prompt = Annotated[str, StringConstraints(strip_whitespace=True, min_length=10, max_length=1000)]


class CreateBrainstormSession(RequestModel):
    prompt: Prompt
    # 0 is a valid temperature and must stay 0 (the old system's `|| 0.9` bug).
    creativity_temp: float = Field(default=0.9, ge=0.0, le=1.0)
    seed_count: WholeNumber = Field(default=10, ge=5, le=15)


class BrainstormInput(CamelModel):
    """The run's input names its session; what to generate is on the session, once.

    The three generation fields are set only by a rerun that overrides them
    ("regenerate with another temperature"): None takes the session's. Runs
    started before the session held them carry the session's values here,
    which are the same.
    """

    session_id: str
    prompt: Prompt | None = None
    creativity_temp: float | None = Field(default=None, ge=0.0, le=1.0)
    seed_count: WholeNumber | None = Field(default=None, ge=5, le=15)


class SeedDraft(CamelModel):
    """One seed as the LLM writes it: a casual and a formal version of each text."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    title: Annotated[str, Capped(200, min_length=5)]
    description: Annotated[str, Capped(2000, min_length=50)]
    approval_likelihood: float = Field(ge=0.0, le=1.0)
    title_formal: Annotated[str, Capped(200, min_length=5)]
    description_formal: Annotated[str, Capped(2000, min_length=50)]
    approval_likelihood_formal: float = Field(ge=0.0, le=1.0)
    suggested_tags: Annotated[list[Tag], Capped(MAX_TAGS)] | None = None
    estimated_duration: int | None = Field(default=None, ge=5, le=21)
    estimated_participants: int | None = Field(default=None, ge=16, le=60)


class SeedView(SeedDraft):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    id: str
    is_saved: bool
    is_dismissed: bool
    created_at: datetime


@functools.cache
def seed_batch_schema(count: int) -> type[BaseModel]:
    """The structured-output schema for exactly `count` seeds (minItems = maxItems).

    Exact repeats are dropped when the rest still make `count`; seeds past
    `count` are cut.
    """
    return create_model(
        f"Seeds{count}",
        __config__=ConfigDict(extra="forbid"),
        seeds=(Annotated[list[SeedDraft], Capped(count, min_length=count), DropDuplicates()], ...),
    )


class GeneratedSeeds(CamelModel):
    seeds: list[SeedDraft]
    ai_model: str


class SavedSeeds(CamelModel):
    seed_ids: list[str]


class SessionUpdated(CamelModel):
    status: str
