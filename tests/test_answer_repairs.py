"""Sloppy model answers are repaired before validation; only what cannot be repaired fails.

The rules are the ones the answer models declare (`shared.llm.repair`);
strict validation, as stored documents and checkpoints get, repairs nothing.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import ValidationError

from shared.llm.repair import trim_at_word, validate_repaired
from shared.llm.schema_example import example_for_schema
from shared.models.brainstorm import seed_batch_schema
from shared.models.programme import DaySessions, daily_structure_schema
from shared.models.project import concept_schema

WORDS = "the quick brown fox jumps over a lazy dog and keeps on running "


def example(schema: Any) -> dict[str, Any]:
    value: dict[str, Any] = example_for_schema(schema.model_json_schema())
    return value


def day(sessions: int = 4) -> dict[str, Any]:
    answer = example(DaySessions)
    while len(answer["sessions"]) < sessions:
        extra = copy.deepcopy(answer["sessions"][-1])
        extra["title"] = f"Session {len(answer['sessions']) + 1}"
        extra["start_time"], extra["end_time"] = "20:00", "20:30"
        answer["sessions"].append(extra)
    return answer


def long_text(length: int) -> str:
    return (WORDS * (length // len(WORDS) + 1))[:length]


# -- the trimming rule ---------------------------------------------------------


def test_trim_cuts_at_the_last_word_boundary_within_the_cap() -> None:
    text = "alpha beta gamma delta"
    assert trim_at_word(text, 13) == "alpha beta"
    assert trim_at_word(text, 16) == "alpha beta gamma"


def test_trim_drops_dangling_punctuation() -> None:
    assert trim_at_word("one two, three four", 10) == "one two"


def test_trim_cuts_mid_word_when_no_boundary_is_near() -> None:
    assert trim_at_word("a " + "x" * 50, 20) == "a " + "x" * 18


def test_trim_never_goes_under_the_minimum_length() -> None:
    assert trim_at_word("word " + "y" * 30, 12, min_length=10) == "word " + "y" * 7


def test_text_within_the_cap_is_unchanged() -> None:
    assert trim_at_word("short", 5) == "short"


# -- repairs on the answer models -----------------------------------------------


def test_sessions_out_of_order_are_sorted_by_start_time() -> None:
    answer = day(4)
    answer["sessions"].reverse()

    value, repairs = validate_repaired(DaySessions, json.dumps(answer))

    starts = [s.start_time for s in value.sessions]
    assert starts == sorted(starts)
    assert repairs == ["sessions: sorted by start_time"]


def test_over_long_texts_are_trimmed_to_their_cap_at_a_word() -> None:
    answer = day(3)
    answer["sessions"][1]["description"] = long_text(2600)
    answer["sessions"][2]["title"] = long_text(230)

    value, repairs = validate_repaired(DaySessions, json.dumps(answer))

    description = value.sessions[1].description
    assert len(description) <= 1500
    assert long_text(2600).startswith(description)
    assert long_text(2600)[len(description)] == " ", "cut at a word boundary"
    assert len(value.sessions[2].title) <= 200
    assert f"description: trimmed from 2600 to {len(description)} characters (cap 1500)" in repairs
    assert any(r.startswith("title: trimmed from 230 to ") for r in repairs)


def test_over_long_list_items_are_trimmed() -> None:
    answer = day(3)
    answer["sessions"][0]["materials_needed"] = ["paper", long_text(400)]

    value, repairs = validate_repaired(DaySessions, json.dumps(answer))

    assert len(value.sessions[0].materials_needed[1]) <= 200
    assert repairs[0].startswith("materials_needed: trimmed from 400 to ")


def test_an_exact_duplicate_session_is_dropped_when_enough_remain() -> None:
    answer = day(3)
    answer["sessions"].insert(1, copy.deepcopy(answer["sessions"][0]))

    value, repairs = validate_repaired(DaySessions, json.dumps(answer))

    assert len(value.sessions) == 3
    assert "sessions: dropped 1 exact duplicate" in repairs


def test_a_duplicate_that_would_leave_too_few_sessions_is_not_repaired() -> None:
    answer = day(3)
    answer["sessions"][2] = copy.deepcopy(answer["sessions"][0])

    with pytest.raises(ValidationError, match="repeat an earlier one exactly"):
        validate_repaired(DaySessions, json.dumps(answer))


def test_a_duplicate_seed_is_dropped_when_the_rest_make_the_count() -> None:
    schema = seed_batch_schema(5)
    answer = example(schema)
    answer["seeds"].insert(2, copy.deepcopy(answer["seeds"][4]))
    assert len(answer["seeds"]) == 6

    value, repairs = validate_repaired(schema, json.dumps(answer))

    assert len(value.seeds) == 5  # type: ignore[attr-defined]
    assert repairs == ["seeds: dropped 1 exact duplicate"]


def test_days_out_of_order_are_put_in_order() -> None:
    schema = daily_structure_schema(5)
    answer = example(schema)
    answer["days"] = answer["days"][2:] + answer["days"][:2]

    value, repairs = validate_repaired(schema, json.dumps(answer))

    assert [d.day_number for d in value.days] == [1, 2, 3, 4, 5]
    assert repairs == ["days: sorted by day_number"]


def test_a_concept_outline_out_of_order_is_put_in_order() -> None:
    schema = concept_schema(5)
    answer = example(schema)
    answer["activityOutline"].reverse()

    value, repairs = validate_repaired(schema, json.dumps(answer))

    assert [d.day for d in value.activityOutline] == [1, 2, 3, 4, 5]
    assert repairs == ["activityOutline: sorted by day"]


def test_a_list_over_its_cap_keeps_its_first_items() -> None:
    answer = day(3)
    answer["sessions"][0]["materials_needed"] = [f"item {i}" for i in range(15)]

    value, repairs = validate_repaired(DaySessions, json.dumps(answer))

    assert value.sessions[0].materials_needed == [f"item {i}" for i in range(12)]
    assert repairs == ["materials_needed: cut from 15 to 12 items (cap 12)"]


def test_a_seeds_tags_over_their_cap_are_cut() -> None:
    schema = seed_batch_schema(5)
    answer = example(schema)
    answer["seeds"][1]["suggestedTags"] = [f"tag {i}" for i in range(10_000)]

    value, repairs = validate_repaired(schema, json.dumps(answer))

    assert value.seeds[1].suggested_tags == [f"tag {i}" for i in range(10)]  # type: ignore[attr-defined]
    assert repairs == ["suggested_tags: cut from 10000 to 10 items (cap 10)"]


def test_seeds_past_the_count_are_cut_after_repeats_are_dropped() -> None:
    schema = seed_batch_schema(5)
    answer = example(schema)
    extra = copy.deepcopy(answer["seeds"][0])
    extra["title"] = "One seed too many"
    answer["seeds"] += [copy.deepcopy(answer["seeds"][3]), extra]
    assert len(answer["seeds"]) == 7

    value, repairs = validate_repaired(schema, json.dumps(answer))

    assert [s.title for s in value.seeds] == [s["title"] for s in answer["seeds"][:5]]  # type: ignore[attr-defined]
    assert repairs == ["seeds: dropped 1 exact duplicate", "seeds: cut from 6 to 5 items (cap 5)"]


def test_sessions_past_the_cap_are_cut_keeping_the_earliest() -> None:
    answer = day(3)
    first = answer["sessions"][0]
    answer["sessions"] = []
    for hour in range(20, 6, -1):  # 14 sessions, latest first
        session = copy.deepcopy(first)
        session["title"] = f"At {hour}"
        session["start_time"], session["end_time"] = f"{hour:02d}:00", f"{hour:02d}:30"
        answer["sessions"].append(session)

    value, repairs = validate_repaired(DaySessions, json.dumps(answer))

    assert [s.start_time for s in value.sessions] == [f"{h:02d}:00" for h in range(7, 19)]
    assert repairs == [
        "sessions: sorted by start_time",
        "sessions: cut from 14 to 12 items (cap 12)",
    ]


def test_days_past_the_duration_are_cut_after_sorting() -> None:
    schema = daily_structure_schema(5)
    answer = example(daily_structure_schema(6))
    answer["days"].reverse()

    value, repairs = validate_repaired(schema, json.dumps(answer))

    assert [d.day_number for d in value.days] == [1, 2, 3, 4, 5]
    assert repairs == ["days: sorted by day_number", "days: cut from 6 to 5 items (cap 5)"]


def test_a_clean_answer_has_no_repairs() -> None:
    value, repairs = validate_repaired(DaySessions, json.dumps(day(3)))
    assert len(value.sessions) == 3
    assert repairs == []


# -- what is not repaired ----------------------------------------------------------


@pytest.mark.parametrize(
    ("breakage", "error"),
    [
        (lambda a: a["sessions"][0].pop("methodology"), "Field required"),
        (lambda a: a["sessions"][0].update(start_time=930), "valid string"),
        (lambda a: a.update(sessions=a["sessions"][:2]), "at least 3 items"),
        (lambda a: a["sessions"][0].update(title=""), "at least 1 character"),
    ],
    ids=["missing field", "wrong type", "too few items", "too short"],
)
def test_what_cannot_be_repaired_still_fails(breakage: Any, error: str) -> None:
    answer = day(3)
    breakage(answer)

    with pytest.raises(ValidationError, match=error):
        validate_repaired(DaySessions, json.dumps(answer))


def test_strict_validation_repairs_nothing() -> None:
    out_of_order = day(3)
    out_of_order["sessions"].reverse()
    over_long = day(3)
    over_long["sessions"][0]["description"] = long_text(1600)

    with pytest.raises(ValidationError, match="in order of start_time"):
        DaySessions.model_validate(out_of_order)
    with pytest.raises(ValidationError, match="at most 1500 characters"):
        DaySessions.model_validate(over_long)


def test_strict_validation_refuses_a_list_over_its_cap() -> None:
    answer = day(3)
    answer["sessions"][0]["materials_needed"] = [f"item {i}" for i in range(13)]

    with pytest.raises(ValidationError, match="at most 12 items"):
        DaySessions.model_validate(answer)
