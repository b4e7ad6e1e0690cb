"""project.generate-from-idea: the idea wizard's answers, ProjectDNA, ProjectConcept.

Wire names are docs/workflows.md's exactly (the wizard's snake_case keys, the
concept's camelCase fields), so models here use them as attribute names and
the frontend needs no mapping layer. Bounds are docs/workflows.md's; where it
gives none (a free-text field, the DNA's lists, budget amounts), a generous
cap keeps documents and checkpoints bounded.
"""

from __future__ import annotations

import functools
from typing import Annotated, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    create_model,
    model_validator,
)

from shared.llm.repair import Capped, SortedBy
from shared.models.common import CamelModel, WholeNumber

Level = Literal["low", "medium", "high"]
AgeGroup = Literal["13-17", "18-25", "26-30", "mixed"]
TargetProfile = Literal["general", "fewer_opportunities", "specific_needs"]
GreenAmbition = Literal["basic", "moderate", "high"]
PartnerStatus = Literal["confirmed", "need_suggestions", "some_confirmed"]
PartnerExperience = Literal["new", "mixed", "experienced"]
BudgetFlexibility = Literal["tight", "moderate", "flexible"]


def _blank_is_absent(value: object) -> object:
    """The wizard sends '' for every text field the user left alone: that means "not given"."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


BLANK_IS_ABSENT = BeforeValidator(_blank_is_absent)

Text = Annotated[
    Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None,
    BLANK_IS_ABSENT,
]
Countries = Annotated[
    Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None,
    BLANK_IS_ABSENT,
]
Languages = Annotated[
    Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None,
    BLANK_IS_ABSENT,
]


class IdeaWizardAnswers(BaseModel):
    """POST /v1/project-sessions: the wizard's answers, keys and types as the app's zod sends them.

    Free-text answers are strings (`preferred_countries` too: "Spain, Poland"
    as typed); '' is the wizard's "left alone" and is stored as absent, so
    neither the stored session nor the model's prompt carries empty answers.
    `primary_languages` is a required key whose value may likewise be ''.
    Everything else is strict: no "24" for 24, no unknown keys.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    theme: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    description: Text = None
    age_group: AgeGroup
    participant_count: WholeNumber = Field(ge=16, le=60)
    target_profile: TargetProfile
    specific_needs_description: Text = None
    duration_days: WholeNumber = Field(ge=5, le=21)
    activity_intensity: Level
    green_ambition: GreenAmbition
    partner_status: PartnerStatus
    partner_experience: PartnerExperience
    preferred_countries: Countries = None
    primary_languages: Languages
    translation_support: bool
    interpretation_needed: bool
    digital_comfort: Level
    budget_flexibility: BudgetFlexibility
    additional_notes: Text = None


class StoredAnswers(IdeaWizardAnswers):
    """The answers as stored: a blank `primary_languages` was stored as absent."""

    primary_languages: Languages = None


class ProjectInput(CamelModel):
    session_id: str
    project_id: str


# -- extract-dna (the LLM's first answer) ------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TargetGroup(_Strict):
    age_range: AgeGroup
    size: int = Field(ge=16, le=60)
    profile: TargetProfile
    specific_needs: Annotated[list[Annotated[str, Capped(300)]], Capped(10)]


class LanguageNeeds(_Strict):
    primary: Annotated[list[Annotated[str, Capped(60, min_length=1)]], Capped(10)]
    translation_required: bool
    interpretation_needed: bool


class ProjectDNA(_Strict):
    target_group: TargetGroup
    theme: Annotated[str, Capped(500, min_length=1)]
    inclusion_complexity: Level
    risk_level: Level
    digital_comfort: Level
    language_needs: LanguageNeeds
    green_ambition: GreenAmbition
    budget_flexibility: BudgetFlexibility
    partner_maturity: PartnerExperience
    duration_preference: int = Field(ge=5, le=21)
    activity_intensity: Level


# -- generate-concept (the LLM's second answer) ---------------------------------


class Objective(_Strict):
    text: Annotated[str, Capped(500, min_length=10)]
    erasmus_priority: Annotated[str, Capped(100, min_length=3)]


class OutlineDay(_Strict):
    day: int = Field(ge=1, le=21)
    morning: Annotated[str, Capped(500, min_length=3)]
    afternoon: Annotated[str, Capped(500, min_length=3)]
    evening: Annotated[str, Capped(500, min_length=3)]


class LearningOutcome(_Strict):
    category: Annotated[str, Capped(100, min_length=3)]
    outcome: Annotated[str, Capped(500, min_length=10)]


# Euros. JSON integers have no size of their own: a cap keeps an amount a
# number a person could mean (and a checkpoint bounded).
MAX_EUROS = 10_000_000


class BudgetBreakdown(_Strict):
    organizational: int = Field(ge=0, le=MAX_EUROS)
    travel_min: int = Field(ge=0, le=MAX_EUROS)
    travel_max: int = Field(ge=0, le=MAX_EUROS)
    individual_min: int = Field(ge=0, le=MAX_EUROS)
    individual_max: int = Field(ge=0, le=MAX_EUROS)
    inclusion: int = Field(ge=0, le=MAX_EUROS)
    exceptional: int | None = Field(default=None, ge=0, le=MAX_EUROS)

    @model_validator(mode="after")
    def _ranges(self) -> Self:
        if self.travel_min > self.travel_max or self.individual_min > self.individual_max:
            raise ValueError("budget breakdown minimums must not exceed maximums")
        return self


class BudgetRange(_Strict):
    min: int = Field(ge=0, le=MAX_EUROS)
    max: int = Field(ge=0, le=MAX_EUROS)
    currency: Literal["EUR"]
    breakdown: BudgetBreakdown

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.min > self.max:
            raise ValueError("estimatedBudgetRange.min must not exceed max")
        return self


Long = Annotated[str, Capped(2000, min_length=100)]
Narrative = Annotated[str, Capped(1000, min_length=80)]


# The model may list days in any order; they are put in order of day, then
# days past the cap are cut (the first days are kept).
BY_DAY = SortedBy("day")
Outline = Annotated[list[OutlineDay], Capped(21, min_length=5), BY_DAY]


class ProjectConcept(_Strict):
    title: Annotated[str, Capped(200, min_length=5)]
    tagline: Annotated[str, Capped(300, min_length=10)]
    objectives: Annotated[list[Objective], Capped(5, min_length=3)]
    targetGroupDescription: Long
    targetGroupDescriptionFormal: Long
    activityOutline: Outline
    learningOutcomes: Annotated[list[LearningOutcome], Capped(10, min_length=5)]
    inclusionPlanOverview: Long
    inclusionPlanOverviewFormal: Long
    partnerProfile: Long
    partnerProfileFormal: Long
    estimatedBudgetRange: BudgetRange
    sustainabilityNarrative: Narrative
    sustainabilityNarrativeFormal: Narrative
    impactNarrative: Narrative
    impactNarrativeFormal: Narrative

    @model_validator(mode="after")
    def _days_in_order(self) -> Self:
        days = [d.day for d in self.activityOutline]
        if days != list(range(1, len(days) + 1)):
            raise ValueError("activityOutline days must be 1, 2, 3... in order")
        return self


@functools.cache
def concept_schema(duration_days: int) -> type[ProjectConcept]:
    """The concept schema with an activity outline of exactly the project's length."""
    return create_model(
        f"ProjectConcept{duration_days}Days",
        __base__=ProjectConcept,
        activityOutline=(
            Annotated[list[OutlineDay], Capped(duration_days, min_length=duration_days), BY_DAY],
            ...,
        ),
    )


# -- step outputs ---------------------------------------------------------------


class ExtractedDNA(CamelModel):
    dna: ProjectDNA
    ai_model: str


class GeneratedConcept(CamelModel):
    concept: ProjectConcept
    ai_model: str


class SavedProject(CamelModel):
    project_id: str


class ProjectSessionUpdated(CamelModel):
    status: str
