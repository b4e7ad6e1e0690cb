"""Deterministic repairs of a model's answer, declared on the answer models themselves.

Models are sloppy in ways a program fixes for free: a day's sessions out of
order, a text a few words over its storage cap, a list with more items than
asked for, the same seed twice. Paying for another call to fix those wastes
money and often fails again, so the answer models mark what may be repaired
(`Capped` strings and lists, `SortedBy` and `DropDuplicates` lists) and
validation repairs it on the way in. What cannot be repaired (a missing
field, a wrong type, too few items) still fails validation, and only that
costs a retry.

Every string and list of an answer model is `Capped` (or bounded by an
enum or a pattern), so no schema-valid answer can outgrow what a checkpoint
can store (tests/test_checkpoint_sizes.py measures the largest one).

Repairs happen only when validation is given a repair log (`validate_repaired`),
that is on a fresh answer from a model. Requests, stored documents and
checkpoints are validated strictly: nothing else is ever silently changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, GetCoreSchemaHandler, ValidationInfo
from pydantic_core import PydanticCustomError, core_schema

__all__ = ["Capped", "DropDuplicates", "SortedBy", "trim_at_word", "validate_repaired"]

M = TypeVar("M", bound=BaseModel)

_REPAIRS = "repairs"
# Characters that should not end a trimmed text.
_TRAILING = " \t\n,;:(/-\u2013\u2014"


def validate_repaired(schema: type[M], json_text: str) -> tuple[M, list[str]]:
    """Validate a model's JSON answer, repairing what the schema allows; also what was repaired."""
    repairs: list[str] = []
    value = schema.model_validate_json(json_text, context={_REPAIRS: repairs})
    return value, repairs


def _repair_log(info: ValidationInfo) -> list[str] | None:
    context = info.context
    log = context.get(_REPAIRS) if isinstance(context, dict) else None
    return log if isinstance(log, list) else None


def _where(info: ValidationInfo) -> str:
    return info.field_name or "value"


def trim_at_word(text: str, max_length: int, min_length: int = 0) -> str:
    """`text` cut to at most `max_length` characters, at the last word boundary if one is near.

    A cut mid-word is used only when the last boundary would leave the text
    under `min_length` or lose more than half of the allowance.
    """
    if len(text) <= max_length:
        return text
    head = text[: max_length + 1]
    boundary = max((m.start() for m in re.finditer(r"\s", head)), default=-1)
    cut = head[:boundary].rstrip(_TRAILING) if boundary > 0 else ""
    if len(cut) < max(min_length, max_length // 2):
        cut = text[:max_length].rstrip()
    return cut if len(cut) >= min_length else text[:max_length]


@dataclass(frozen=True)
class Capped:
    """A string or a list with length bounds; an answer over `max_length` is cut to it.

    Use as `Annotated[str, Capped(200, min_length=5)]` (a string over its cap
    is trimmed at a word boundary) or `Annotated[list[Item], Capped(10)]` (a
    list keeps its first 10 items). The bounds appear in the JSON schema as
    `minLength`/`maxLength` or `minItems`/`maxItems`. On a list, put `Capped`
    first among the list's annotations, so that sorting and dropping repeats
    happen before the cut (the earliest sessions are kept, not the first
    ones the model wrote; a repeat does not push a distinct item out).
    """

    max_length: int
    min_length: int = 0

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        if source is str:
            bounded: core_schema.CoreSchema = core_schema.str_schema(
                min_length=self.min_length or None, max_length=self.max_length
            )
            return core_schema.with_info_before_validator_function(self._trim, bounded)
        inner = handler(source)
        if inner["type"] != "list":
            raise TypeError(
                f"Capped applies to str or to a list directly (first of its annotations), "
                f"not to {source!r}"
            )
        bounded = core_schema.list_schema(
            inner.get("items_schema"),
            min_length=self.min_length or None,
            max_length=self.max_length,
        )
        return core_schema.with_info_before_validator_function(self._cut, bounded)

    def _trim(self, value: Any, info: ValidationInfo) -> Any:
        log = _repair_log(info)
        if log is None or not isinstance(value, str) or len(value) <= self.max_length:
            return value
        trimmed = trim_at_word(value, self.max_length, self.min_length)
        log.append(
            f"{_where(info)}: trimmed from {len(value)} to {len(trimmed)} characters "
            f"(cap {self.max_length})"
        )
        return trimmed

    def _cut(self, value: Any, info: ValidationInfo) -> Any:
        log = _repair_log(info)
        if log is None or not isinstance(value, list) or len(value) <= self.max_length:
            return value
        log.append(
            f"{_where(info)}: cut from {len(value)} to {self.max_length} items "
            f"(cap {self.max_length})"
        )
        return value[: self.max_length]


@dataclass(frozen=True)
class SortedBy:
    """A list of objects put in order of one key, when every item has a string or number there.

    Use as `Annotated[list[Session], Len(3, 12), SortedBy("start_time")]`.
    """

    key: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.with_info_before_validator_function(self._sort, handler(source))

    def _sort(self, value: Any, info: ValidationInfo) -> Any:
        log = _repair_log(info)
        if log is None or not isinstance(value, list):
            return value
        keys: list[Any] = [item.get(self.key) if isinstance(item, dict) else None for item in value]
        comparable = all(isinstance(k, str) for k in keys) or all(
            isinstance(k, int | float) and not isinstance(k, bool) for k in keys
        )
        if not keys or not comparable:
            return value  # validation will say what is wrong with the items
        order = sorted(range(len(value)), key=lambda i: keys[i])
        if order == list(range(len(value))):
            return value
        log.append(f"{_where(info)}: sorted by {self.key}")
        return [value[i] for i in order]


@dataclass(frozen=True)
class DropDuplicates:
    """A list whose items must differ; exact repeats are dropped while enough items remain.

    Place it after the list's `Capped(...)`: the minimum count is read from it.
    When dropping would leave too few items, the answer fails validation (a
    retry is needed anyway), and strict validation always refuses repeats.
    """

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        inner = handler(source)
        min_items = _min_items(inner)

        def drop(value: Any, info: ValidationInfo) -> Any:
            log = _repair_log(info)
            if log is None or not isinstance(value, list):
                return value
            unique: list[Any] = []
            for item in value:
                if item not in unique:
                    unique.append(item)
            dropped = len(value) - len(unique)
            if dropped == 0 or len(unique) < min_items:
                return value
            log.append(
                f"{_where(info)}: dropped {dropped} exact duplicate{'s' if dropped > 1 else ''}"
            )
            return unique

        return core_schema.with_info_before_validator_function(
            drop, core_schema.no_info_after_validator_function(_refuse_repeats, inner)
        )


def _min_items(schema: Any) -> int:
    """The minimum length of the list schema `schema` is, or wraps (in validator functions)."""
    while isinstance(schema, dict):
        if schema.get("type") == "list":
            return int(schema.get("min_length") or 0)
        schema = schema.get("schema")
    return 0


def _refuse_repeats(items: list[Any]) -> list[Any]:
    repeats = sum(1 for i, item in enumerate(items) if item in items[:i])
    if repeats:
        raise PydanticCustomError(
            "duplicate_items",
            "{repeats} item(s) repeat an earlier one exactly; every item must differ",
            {"repeats": repeats},
        )
    return items
