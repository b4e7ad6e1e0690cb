"""Completed items out of a streamed JSON answer, as soon as each one closes.

A streamed structured answer arrives a few characters at a time. What a
reader can use early is a *completed item*: an element of the answer's only
top-level array (a brainstorm's seeds, a day's sessions, a structure's days),
or, when the answer is an object of several properties (a project concept,
its DNA), each property as its value closes ("sections", reported as
`{"name", "value"}`). Partial items are never reported: they could still
change.

The parsing is ijson's (a push parser over yajl, pinned in requirements.txt):
it is fed bytes as they come and yields each item when its closing bracket
(or the next property) arrives, without re-reading what came before. Invalid
JSON stops the reporting (`broken`); whether the whole answer is acceptable is
still decided afterwards, by validating the complete text as without
streaming.
"""

from __future__ import annotations

from typing import Any

import ijson
from pydantic import BaseModel

from shared.llm.structured_output import provider_schema

__all__ = ["ItemParser", "item_field", "items_of"]


def item_field(schema: type[BaseModel]) -> str | None:
    """The answer's item array's name; None when its items are its sections."""
    properties = provider_schema(schema).get("properties") or {}
    if len(properties) == 1:
        name, node = next(iter(properties.items()))
        if isinstance(node, dict) and node.get("type") == "array":
            return str(name)
    return None


def items_of(value: BaseModel) -> list[Any]:
    """The items of a validated answer, shaped as the streamed ones (JSON, by alias)."""
    dumped = value.model_dump(mode="json", by_alias=True)
    field = item_field(type(value))
    if field is not None:
        found = dumped.get(field)
        return list(found) if isinstance(found, list) else []
    return [{"name": name, "value": section} for name, section in dumped.items()]


class ItemParser:
    """Feeds pieces of one answer's text; returns the items each piece completed.

    Not thread-safe: one parser per streamed answer.
    """

    def __init__(self, schema: type[BaseModel]) -> None:
        self._field = item_field(schema)
        self._out: Any = ijson.sendable_list()
        if self._field is not None:
            self._coro = ijson.items_coro(self._out, f"{self._field}.item", use_float=True)
        else:
            self._coro = ijson.kvitems_coro(self._out, "", use_float=True)
        self.broken = False
        self.count = 0

    def feed(self, text: str) -> list[Any]:
        if self.broken or not text:
            return []
        try:
            self._coro.send(text.encode())
        except ijson.common.JSONError:
            self.broken = True
        return self._take()

    def close(self) -> list[Any]:
        """The end of the text: an item it completed (the last section), if any."""
        if not self.broken:
            try:
                self._coro.close()
            except ijson.common.JSONError:
                self.broken = True
        return self._take()

    def _take(self) -> list[Any]:
        taken = list(self._out)
        del self._out[:]
        if self._field is None:
            taken = [{"name": name, "value": value} for name, value in taken]
        self.count += len(taken)
        return taken
