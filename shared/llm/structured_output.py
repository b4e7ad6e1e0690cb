"""The JSON schema sent as `response_format`: strict, and within what providers accept.

OpenAI's strict structured outputs accept only a subset of JSON Schema: the
SDK makes every object strict (all properties required, no additional
ones), and string length bounds (`minLength`, `maxLength`) are not part of
the documented subset, so a schema carrying them risks being refused
outright, failing every run. They are moved into the field's description,
where the model still reads them, and enforced where they always were: by
validating the answer against the full pydantic model, with a retry that
tells the model what was wrong.
"""

from __future__ import annotations

import functools
from typing import Any

from openai.lib._pydantic import to_strict_json_schema
from openai.types.shared_params import ResponseFormatJSONSchema
from pydantic import BaseModel


def _length_hint(node: dict[str, Any]) -> str | None:
    low, high = node.pop("minLength", None), node.pop("maxLength", None)
    if low is not None and high is not None:
        return f"{low} to {high} characters"
    if low is not None:
        return f"at least {low} characters"
    if high is not None:
        return f"at most {high} characters"
    return None


def _rewrite(node: Any) -> Any:
    if isinstance(node, list):
        return [_rewrite(item) for item in node]
    if not isinstance(node, dict):
        return node
    rewritten = {key: _rewrite(value) for key, value in node.items()}
    hint = _length_hint(rewritten)
    if hint:
        description = rewritten.get("description")
        rewritten["description"] = f"{description} ({hint})" if description else hint
    return rewritten


@functools.cache
def provider_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The strict schema of `model` without the keywords providers refuse."""
    schema: dict[str, Any] = _rewrite(to_strict_json_schema(model))
    return schema


def response_format(model: type[BaseModel]) -> ResponseFormatJSONSchema:
    return {
        "type": "json_schema",
        "json_schema": {"name": model.__name__, "schema": provider_schema(model), "strict": True},
    }
