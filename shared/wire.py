"""The conventions every layer shares for what leaves the process: the wire and Firestore.

camelCase outside (`CamelModel`), a view projected from its record by field
name (`projected`), a stored document read and written through its model
(`Document`). Below the engine on purpose: the engine's records, views and
usage documents, the domain models (`shared.models.common` re-exports all
three) and the HTTP answers follow them, and the one definition lives where
each of them may import it without an upward arrow.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel

__all__ = ["CamelModel", "Document", "projected"]


class CamelModel(BaseModel):
    """Python names in code, camelCase on the wire and in Firestore (as the frontend uses)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


V = TypeVar("V", bound=BaseModel)


def projected(view: type[V], source: BaseModel, **given: Any) -> V:
    """`view` built from `source`: each field is `source`'s field of the same name, unless given.

    A record and its views name a fact the same way (a run's `finished_at`
    is `finishedAt` in every view of it), so a view is derived by name and
    a field added to both needs no copying code. A view field that `source`
    lacks and that is not given is a mistake in the view, so it raises
    rather than silently reading as absent.
    """
    has = type(source).model_fields
    unknown = set(given) - set(view.model_fields)
    if unknown:
        raise TypeError(f"{view.__name__} has no field {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name in view.model_fields:
        if name in given:
            values[name] = given[name]
        elif name in has:
            values[name] = getattr(source, name)
        else:
            raise TypeError(f"{view.__name__}.{name}: not a field of {type(source).__name__}")
    return view.model_validate(values, by_name=True)


class Document(BaseModel):
    """A document as stored in Firestore: one model per kind, read and written through it.

    Every document belongs to a tenant. Loading ignores stored fields the
    model does not declare, so a document an older version wrote still
    loads. A write sets only the fields it was given: `stored()` of a model
    built for a create, `patch(...)` for a merge. Field names in code are
    Python's; the stored names are the aliases (camelCase, or the app's own
    snake_case where docs/workflows.md keeps it).
    """

    # Built on first use, not at import: a cold start pays only for the
    # documents its first request touches.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, defer_build=True)

    tenant_id: str = Field(alias="tenantId")

    def stored(self) -> dict[str, Any]:
        """The document's data for a write: the fields it was built with, by stored name."""
        return self.model_dump(by_alias=True, exclude_unset=True)

    @classmethod
    def patch(cls, **changes: Any) -> dict[str, Any]:
        """A merge's data: `changes` (Python names) validated as this document's fields.

        A name the document does not have, or a value its field would not
        hold, raises here rather than writing a field nobody reads.
        """
        unknown = set(changes) - set(cls.model_fields)
        if unknown:
            raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
        values = {name: _field_type(cls, name).validate_python(v) for name, v in changes.items()}
        return cls.model_construct(**values).model_dump(by_alias=True, include=set(changes))

    @classmethod
    def stored_name(cls, field: str) -> str:
        """The name `field` is stored under (for a query's order or a filter)."""
        return cls.model_fields[field].alias or field


@functools.cache
def _field_type(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    return TypeAdapter(model.model_fields[name].rebuild_annotation())
