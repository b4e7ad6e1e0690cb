"""Without a key, the offline provider fills any model with valid, clearly-marked placeholders."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal, Self, TypeVar

import pytest
from pydantic import BaseModel, Field, model_validator

from shared.engine import ModelTokens, StepMeter, TokenUsage
from shared.errors import NonRetriableError
from shared.llm.offline_model import OfflineLanguageModel

HH_MM = r"^([01]\d|2[0-3]):[0-5]\d$"

M = TypeVar("M", bound=BaseModel)


class SeedIdea(BaseModel):
    title: str = Field(min_length=5, max_length=200)
    description: str = Field(min_length=50, max_length=2000)
    approvalLikelihood: float = Field(ge=0, le=1)
    suggestedTags: list[str] | None = None
    estimatedDuration: int | None = Field(default=None, ge=5, le=21)


class Seeds(BaseModel):
    seeds: list[SeedIdea] = Field(min_length=7, max_length=7)


class ActivityType(StrEnum):
    ICEBREAKER = "ICEBREAKER"
    WORKSHOP = "WORKSHOP"


class Session(BaseModel):
    title: str = Field(max_length=12)
    activity_type: ActivityType
    language_level: Literal["basic", "intermediate", "advanced"]
    start_time: str = Field(pattern=HH_MM)
    end_time: str = Field(pattern=HH_MM)


class Day(BaseModel):
    day_number: int = Field(gt=0, lt=22)
    sessions: list[Session] = Field(min_length=2, max_length=4)
    notes: Session | None = None


class Budget(BaseModel):
    min: int = Field(ge=100, le=1000)
    max: int = Field(ge=100, le=1000)

    @model_validator(mode="after")
    def _max_above_min(self) -> Self:
        if self.max <= self.min:
            raise ValueError("max must exceed min")
        return self


class BudgetWithExample(Budget):
    @classmethod
    def offline_example(cls) -> Self:
        return cls(min=200, max=800)


def generate(schema: type[M]) -> M:
    return OfflineLanguageModel().generate(schema, system="s", prompt="p", temperature=0.9).value


def test_output_respects_string_number_and_optional_field_bounds() -> None:
    seed = generate(Seeds).seeds[0]

    assert 5 <= len(seed.title) <= 200
    assert 50 <= len(seed.description) <= 2000
    assert 0 <= seed.approvalLikelihood <= 1
    assert seed.suggestedTags
    assert seed.estimatedDuration is not None
    assert 5 <= seed.estimatedDuration <= 21


def test_list_has_the_number_of_items_the_schema_demands() -> None:
    assert len(generate(Seeds).seeds) == 7


def test_list_items_differ() -> None:
    titles = [seed.title for seed in generate(Seeds).seeds]

    assert len(set(titles)) == len(titles)


def test_nested_models_enums_literals_and_hh_mm_times_are_valid() -> None:
    day = generate(Day)

    assert 1 <= day.day_number <= 21
    assert 2 <= len(day.sessions) <= 4
    assert day.notes is not None
    for session in day.sessions:
        assert len(session.title) <= 12
        assert session.activity_type in ActivityType
        assert re.match(HH_MM, session.start_time)
        assert session.start_time < session.end_time


def test_output_says_it_is_offline_placeholder_content() -> None:
    generation = OfflineLanguageModel().generate(Seeds, system="s", prompt="p", temperature=0.9)

    assert generation.model == "offline"
    assert "Offline placeholder" in generation.value.seeds[0].description


def test_model_name_is_offline() -> None:
    assert OfflineLanguageModel().model_name == "offline"


def test_output_is_deterministic() -> None:
    assert generate(Day) == generate(Day)


def test_offline_example_hook_is_used_when_the_model_defines_it() -> None:
    assert generate(BudgetWithExample) == BudgetWithExample(min=200, max=800)


def test_model_the_schema_cannot_satisfy_fails_naming_the_hook() -> None:
    with pytest.raises(NonRetriableError, match=r"define Budget\.offline_example\(\)"):
        generate(Budget)


def test_the_offline_model_reports_each_call_with_zero_tokens():
    meter = StepMeter()
    OfflineLanguageModel().generate(Seeds, system="s", prompt="p", temperature=0.9, meter=meter)
    OfflineLanguageModel().generate(Seeds, system="s", prompt="p", temperature=0.9, meter=meter)

    assert meter.usage == TokenUsage(
        calls=2, model="offline", models={"offline": ModelTokens(calls=2)}
    )
