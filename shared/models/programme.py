"""programme.generate-from-concept: the daily structure, each day's sessions, the stored programme.

Field names are docs/workflows.md's (snake_case, as the app's programme editor
uses them). Cross-field rules (a day per day number, sessions that end after
they start) are validators on the structured-output models, so an answer
that breaks them is retried like any other schema violation, unless a repair
declared here (order, over-long text or lists, exact repeats) fixes it first.

REFERENCE.md bounds a session's title (200) and a day's theme (200) and
focuses (500); the other caps are ours, chosen so that the largest valid day
(12 sessions, every text and list full) still fits one checkpoint
(tests/test_checkpoint_sizes.py): a session's long texts 1500 characters,
a list item 200, at most 6 learning objectives and 12 materials.
"""

from __future__ import annotations

import functools
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model, model_validator

from shared.llm.repair import Capped, DropDuplicates, SortedBy
from shared.models.common import CamelModel, RequestModel, ResourceId


class ActivityType(StrEnum):
    ICEBREAKER = "ICEBREAKER"
    WORKSHOP = "WORKSHOP"
    REFLECTION = "REFLECTION"
    ENERGIZER = "ENERGIZER"
    FREE_TIME = "FREE_TIME"
    MEAL = "MEAL"
    PRESENTATION = "PRESENTATION"
    GROUP_WORK = "GROUP_WORK"
    OUTDOOR = "OUTDOOR"
    CULTURAL = "CULTURAL"
    INTERCULTURAL = "INTERCULTURAL"
    CREATIVE = "CREATIVE"
    SPORTS = "SPORTS"
    DISCUSSION = "DISCUSSION"


TimeOfDay = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
Short = Annotated[str, Capped(200, min_length=1)]
Focus = Annotated[str, Capped(500, min_length=1)]
Body = Annotated[str, Capped(1500, min_length=1)]
Item = Annotated[str, Capped(200, min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DayPlan(_Strict):
    day_number: int = Field(ge=1, le=21)
    theme: Short
    morning_focus: Focus
    afternoon_focus: Focus
    evening_focus: Focus
    morning_focus_formal: Focus
    afternoon_focus_formal: Focus
    evening_focus_formal: Focus
    key_learning_outcomes: Annotated[list[Item], Capped(10, min_length=1)]


# The model may list days in any order; they are put in order of day_number,
# then days past the cap are cut (the first days are kept).
BY_DAY_NUMBER = SortedBy("day_number")
Days = Annotated[list[DayPlan], Capped(21, min_length=1), BY_DAY_NUMBER]


class DailyStructure(_Strict):
    days: Days

    @model_validator(mode="after")
    def _one_per_day(self) -> Self:
        numbers = [d.day_number for d in self.days]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError("days must be numbered 1, 2, 3... once each, in order")
        return self


@functools.cache
def daily_structure_schema(duration_days: int) -> type[DailyStructure]:
    return create_model(
        f"DailyStructure{duration_days}Days",
        __base__=DailyStructure,
        days=(
            Annotated[
                list[DayPlan],
                Capped(duration_days, min_length=duration_days),
                BY_DAY_NUMBER,
            ],
            ...,
        ),
    )


class ProgrammeSession(_Strict):
    title: Short
    description: Body
    activity_type: ActivityType
    start_time: TimeOfDay
    end_time: TimeOfDay
    learning_objectives: Annotated[list[Item], Capped(6)]
    methodology: Body
    materials_needed: Annotated[list[Item], Capped(12)]
    preparation_notes: Body
    space_requirements: Focus
    group_size: Short
    accessibility_notes: Focus
    language_level: Short
    title_formal: Short
    description_formal: Body
    preparation_notes_formal: Body

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        if self.end_time <= self.start_time:  # "HH:MM" strings order like times
            raise ValueError(f"session {self.title!r} must end after it starts")
        return self


class DaySessions(_Strict):
    # A model's answer out of start-time order is sorted, exact repeats
    # dropped, then sessions past the cap cut (the earliest are kept).
    sessions: Annotated[
        list[ProgrammeSession], Capped(12, min_length=3), DropDuplicates(), SortedBy("start_time")
    ]

    @model_validator(mode="after")
    def _in_order(self) -> Self:
        starts = [s.start_time for s in self.sessions]
        if starts != sorted(starts):
            raise ValueError("sessions must be in order of start_time")
        return self


class ScheduledSession(ProgrammeSession):
    model_config = ConfigDict(extra="ignore")

    position: int


class ProgrammeDay(DayPlan):
    """A day as the programme editor reads it: snake_case fields (docs/workflows.md)."""

    model_config = ConfigDict(extra="ignore")

    day_number: int = Field(alias="dayNumber", ge=1, le=21)
    programme_id: str = Field(alias="programmeId")
    sessions: list[ScheduledSession]


class GeneratedFrom(CamelModel):
    project_title: str
    duration_days: int
    generated_at: datetime


REVIEW_DESCRIPTION = (
    "Stop after the daily structure for a planner's review (status AWAITING_REVIEW); the "
    "run continues on signal `review` with decision approve, or ends CANCELLED on reject."
)


class ProgrammeOptions(RequestModel):
    """A programme create's options; the body may be left out (no review)."""

    review: bool = Field(default=False, description=REVIEW_DESCRIPTION)


class CreateProgramme(RequestModel):
    """A programme for one of the tenant's projects (the HTTP route takes the id in its path)."""

    project_id: ResourceId
    review: bool = Field(default=False, description=REVIEW_DESCRIPTION)


class ReviewDecision(_Strict):
    """The planner's review of a programme's daily structure: signal `review`'s payload.

    `structure`, with `approve` only, replaces the generated one (every day's
    theme and focuses editable, with the same bounds and the same number of
    days); the days are generated from it.
    """

    decision: Literal["approve", "reject"]
    structure: DailyStructure | None = None

    @model_validator(mode="after")
    def _structure_only_to_approve(self) -> Self:
        if self.structure is not None and self.decision != "approve":
            raise ValueError("structure: only an approval carries an edited structure")
        return self


class ProgrammeInput(CamelModel):
    programme_id: str
    project_id: str
    # Wait for a review after the daily structure, for this long (REVIEW_TIMEOUT_SECONDS
    # when the programme was created).
    review: bool = False
    review_timeout_seconds: int | None = None


class LoadedProject(CamelModel):
    title: str
    tagline: str
    duration_days: int
    participant_count: int
    summary: str


class GeneratedStructure(CamelModel):
    structure: DailyStructure
    ai_model: str


class GeneratedDay(CamelModel):
    day_number: int
    sessions: list[ProgrammeSession]
    ai_model: str


class SavedProgramme(CamelModel):
    programme_id: str
    days: int
    sessions: int
