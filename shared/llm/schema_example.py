"""Build a value that satisfies a JSON schema, as pydantic emits them.

Two consumers need content that passes validation without a language model:
the offline provider (local development without a key) and the fake
OpenAI-compatible server used by tests and the benchmark. Both start from the
JSON schema rather than the pydantic class, because the server only ever
sees the schema on the wire.

The generator covers what pydantic models of LLM outputs use: `$defs`/`$ref`,
`anyOf`/`oneOf`/`allOf`, objects (optional properties are filled too, so the
placeholder shows every field), strings with length bounds, `enum`, `const`,
`format` and simple patterns (notably "HH:MM"), bounded numbers, arrays with
item bounds, booleans and null. It is deterministic: the same schema and
`text` always give the same value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from shared.errors import SchemaExampleError

__all__ = ["SchemaExampleError", "example_for_schema", "largest_for_schema"]

_FILLER = " placeholder"

# Values for `format`s pydantic emits for date, time, UUID, URL and e-mail types.
_FORMAT_EXAMPLES: dict[str, str] = {
    "date-time": "2030-01-01T09:00:00Z",
    "date": "2030-01-01",
    "time": "09:00:00",
    "duration": "PT1H",
    "email": "placeholder@example.com",
    "uri": "https://example.com/placeholder",
    "url": "https://example.com/placeholder",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
}

# Candidates tried, in order, when a string has a pattern the generated text
# does not match. Time-of-day slots come first (see `_Walker._next_time`).
_PATTERN_CANDIDATES: tuple[str, ...] = (
    "2030-01-01",
    "EUR",
    "A",
    "a",
    "1",
    "placeholder",
    "PLACEHOLDER",
    "placeholder-1",
)


class _Cycle(Exception):
    """A `$ref` refers back to itself; the caller picks a branch that ends the recursion."""


class _Walker:
    def __init__(self, root: Mapping[str, Any], text: str) -> None:
        self._root = root
        self._text = text
        self._active_refs: list[str] = []
        # Successive "HH:MM" values go forward in time, so that a start_time
        # generated before its end_time comes out earlier, as validators expect.
        self._time_slot = 0
        # Index of the array item being built, innermost last: bounded
        # integers count up from their minimum along an array (day 1, 2, 3...)
        # so items are distinct where validators want them to be.
        self._indexes: list[int] = []

    def value(self, schema: Any, path: str) -> Any:
        if schema is True or schema is None or schema == {}:
            return self._string({}, path)
        if not isinstance(schema, Mapping):
            raise SchemaExampleError(f"Unsupported schema at {path or 'the root'}: {schema!r}")

        if "$ref" in schema:
            return self._ref(schema, path)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self._enum(schema, path)
        if "allOf" in schema:
            return self.value(_merge_all_of(schema), path)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return self._union(schema[key], path)

        kind = _schema_type(schema)
        if kind == "object":
            return self._object(schema, path)
        if kind == "array":
            return self._array(schema, path)
        if kind == "string":
            return self._string(schema, path)
        if kind == "integer":
            return self._integer(schema, path)
        if kind == "number":
            return self._number(schema, path)
        if kind == "boolean":
            default = schema.get("default")
            return default if isinstance(default, bool) else False
        if kind == "null":
            return None
        return self._string(schema, path)

    def _ref(self, schema: Mapping[str, Any], path: str) -> Any:
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise SchemaExampleError(f"Unsupported $ref at {path or 'the root'}: {ref!r}")
        if ref in self._active_refs:
            raise _Cycle(ref)
        target: Any = self._root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or part not in target:
                raise SchemaExampleError(f"Unresolvable $ref at {path or 'the root'}: {ref}")
            target = target[part]
        # Sibling keywords (a description, a default) refine the referenced schema.
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        merged = {**target, **siblings} if isinstance(target, Mapping) else target
        self._active_refs.append(ref)
        try:
            return self.value(merged, path)
        finally:
            self._active_refs.pop()

    def _integer(self, schema: Mapping[str, Any], path: str) -> int:
        return _integer(schema, self._indexes[-1] if self._indexes else None)

    def _number(self, schema: Mapping[str, Any], path: str) -> float:
        return _number(schema)

    def _enum(self, schema: Mapping[str, Any], path: str) -> Any:
        options = schema["enum"]
        if not isinstance(options, list) or not options:
            raise SchemaExampleError(f"Empty enum at {path or 'the root'}")
        default = schema.get("default")
        return default if default in options else options[0]

    def _union(self, variants: Any, path: str) -> Any:
        if not isinstance(variants, list) or not variants:
            raise SchemaExampleError(f"Empty union at {path or 'the root'}")
        # Prefer a real value over null so that optional fields are filled;
        # fall back to null only to break a recursive model.
        ordered = sorted(variants, key=lambda v: isinstance(v, Mapping) and v.get("type") == "null")
        last_cycle: _Cycle | None = None
        for variant in ordered:
            try:
                return self.value(variant, path)
            except _Cycle as cycle:
                last_cycle = cycle
        assert last_cycle is not None
        raise last_cycle

    def _object(self, schema: Mapping[str, Any], path: str) -> dict[str, Any]:
        properties = schema.get("properties") or {}
        required = set(schema.get("required") or ())
        result: dict[str, Any] = {}
        for name, prop in properties.items():
            child = f"{path}.{name}" if path else name
            try:
                result[name] = self.value(prop, child)
            except _Cycle:
                if name in required:
                    raise
        extra = schema.get("additionalProperties")
        if not properties and isinstance(extra, Mapping):
            key = "placeholder"
            result[key] = self.value(extra, f"{path}.{key}" if path else key)
        return result

    def _array(self, schema: Mapping[str, Any], path: str) -> list[Any]:
        prefix = schema.get("prefixItems")
        if isinstance(prefix, list):
            return [self.value(item, f"{path}[{i}]") for i, item in enumerate(prefix)]
        min_items = int(schema.get("minItems", 0))
        max_items = schema.get("maxItems")
        count = max(min_items, 1)
        if max_items is not None:
            count = min(count, int(max_items))
        items = schema.get("items", {})
        result: list[Any] = []
        for i in range(count):
            self._indexes.append(i)
            try:
                result.append(self.value(items, f"{path}[{i}]"))
            except _Cycle:
                if len(result) >= min_items:
                    break
                raise
            finally:
                self._indexes.pop()
        return result

    def _string(self, schema: Mapping[str, Any], path: str) -> str:
        min_len, max_len = _length_bounds(schema)
        fmt = schema.get("format")
        pattern = schema.get("pattern")

        if isinstance(fmt, str) and fmt in _FORMAT_EXAMPLES:
            return _FORMAT_EXAMPLES[fmt]

        text = f"{self._text} ({path})" if path else self._text
        text = _fit(text, min_len, None if max_len is None else int(max_len))
        if not isinstance(pattern, str) or re.search(pattern, text):
            return text

        for candidate in (self._next_time(), *_PATTERN_CANDIDATES):
            fits = min_len <= len(candidate) and (max_len is None or len(candidate) <= int(max_len))
            if fits and re.search(pattern, candidate):
                return candidate
        raise SchemaExampleError(
            f"Cannot produce a string matching {pattern!r} at {path or 'the root'}"
        )

    def _next_time(self) -> str:
        minutes = (9 * 60 + self._time_slot * 30) % (24 * 60)
        self._time_slot += 1
        return f"{minutes // 60:02d}:{minutes % 60:02d}"


class _LargestWalker(_Walker):
    """Every array at its maxItems, every string at its maximum length, filled with `fill`.

    A schema with no upper bound somewhere (an array without maxItems, a
    free string without a length cap, an unbounded number) has no largest
    value: that is reported as a `SchemaExampleError` naming the place.
    """

    def __init__(self, root: Mapping[str, Any], text: str, fill: str) -> None:
        super().__init__(root, text)
        self._fill = fill

    def _enum(self, schema: Mapping[str, Any], path: str) -> Any:
        options = schema["enum"]
        if not isinstance(options, list) or not options:
            raise SchemaExampleError(f"Empty enum at {path or 'the root'}")
        return max(options, key=lambda option: len(str(option)))

    def _array(self, schema: Mapping[str, Any], path: str) -> list[Any]:
        if isinstance(schema.get("prefixItems"), list):
            return super()._array(schema, path)
        if schema.get("maxItems") is None:
            raise SchemaExampleError(f"Unbounded array at {path or 'the root'}: no maxItems")
        return super()._array({**schema, "minItems": schema["maxItems"]}, path)

    def _string(self, schema: Mapping[str, Any], path: str) -> str:
        if schema.get("format") in _FORMAT_EXAMPLES or isinstance(schema.get("pattern"), str):
            return super()._string(schema, path)
        _, max_len = _length_bounds(schema)
        if max_len is None:
            raise SchemaExampleError(f"Unbounded string at {path or 'the root'}: no length cap")
        # The path first keeps items distinct (validators refuse exact repeats).
        head = f"{self._text} ({path})"[:max_len]
        return head + self._fill * (max_len - len(head))

    def _integer(self, schema: Mapping[str, Any], path: str) -> int:
        low, high, _, high_open = _bounds(schema)
        if high is None:
            raise SchemaExampleError(f"Unbounded integer at {path or 'the root'}: no maximum")
        if self._indexes and low is not None:
            return super()._integer(schema, path)  # day 1, 2, 3... along an array
        return math.ceil(high) - 1 if high_open else math.floor(high)

    def _number(self, schema: Mapping[str, Any], path: str) -> float:
        low, high, _, _ = _bounds(schema)
        if low is None or high is None:
            raise SchemaExampleError(f"Unbounded number at {path or 'the root'}")
        # A third of the range: as many digits as a float's JSON text has.
        return float(low) + (float(high) - float(low)) / 3


_HINTED_RANGE = re.compile(r"(\d+) to (\d+) characters")
_HINTED_MIN = re.compile(r"at least (\d+) characters")
_HINTED_MAX = re.compile(r"at most (\d+) characters")


def _length_bounds(schema: Mapping[str, Any]) -> tuple[int, int | None]:
    """Length bounds from the keywords, or, as a model reads them, from the description.

    Schemas sent to providers carry string lengths in the description
    (shared.llm.structured_output); a stand-in model must honour them too.
    """
    low = schema.get("minLength")
    high = schema.get("maxLength")
    description = str(schema.get("description", ""))
    if low is None and high is None and description:
        if match := _HINTED_RANGE.search(description):
            low, high = int(match[1]), int(match[2])
        else:
            if match := _HINTED_MIN.search(description):
                low = int(match[1])
            if match := _HINTED_MAX.search(description):
                high = int(match[1])
    return int(low or 0), None if high is None else int(high)


def _fit(text: str, min_len: int, max_len: int | None) -> str:
    if len(text) < min_len:
        while len(text) < min_len:
            text += _FILLER
        text = _no_trailing_space(text[:min_len])
    if max_len is not None and len(text) > max_len:
        text = _no_trailing_space(text[:max_len])
    return text


def _no_trailing_space(text: str) -> str:
    # Models that strip whitespace would otherwise fall below minLength.
    return text[:-1] + "." if text.endswith(" ") else text


def _schema_type(schema: Mapping[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        non_null = [k for k in kind if k != "null"]
        return str(non_null[0]) if non_null else "null"
    if isinstance(kind, str):
        return kind
    if "properties" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    return None


def _merge_all_of(schema: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema["allOf"]:
        if not isinstance(part, Mapping):
            continue
        for key, value in part.items():
            if key == "properties" and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            elif key == "required" and isinstance(merged.get(key), list):
                merged[key] = [*merged[key], *value]
            else:
                merged.setdefault(key, value)
    return merged


def _bounds(schema: Mapping[str, Any]) -> tuple[float | None, float | None, bool, bool]:
    low, high = schema.get("minimum"), schema.get("maximum")
    low_open = high_open = False
    if schema.get("exclusiveMinimum") is not None:
        low, low_open = schema["exclusiveMinimum"], True
    if schema.get("exclusiveMaximum") is not None:
        high, high_open = schema["exclusiveMaximum"], True
    return low, high, low_open, high_open


def _integer(schema: Mapping[str, Any], index: int | None = None) -> int:
    low, high, low_open, high_open = _bounds(schema)
    lo = None if low is None else (math.floor(low) + 1 if low_open else math.ceil(low))
    hi = None if high is None else (math.ceil(high) - 1 if high_open else math.floor(high))
    if lo is not None and hi is not None and index is not None:
        value = min(lo + index, hi)
    elif lo is not None and hi is not None:
        value = (lo + hi) // 2
    elif lo is not None:
        value = max(lo, 1)
    elif hi is not None:
        value = min(hi, 1)
    else:
        value = 1
    step = schema.get("multipleOf")
    if isinstance(step, int) and step > 0 and value % step:
        value += step - value % step
    return value


def _number(schema: Mapping[str, Any]) -> float:
    low, high, low_open, high_open = _bounds(schema)
    if low is not None and high is not None:
        return (float(low) + float(high)) / 2
    if low is not None:
        return float(low) + 1 if low_open else max(float(low), 0.5)
    if high is not None:
        return float(high) - 1 if high_open else min(float(high), 0.5)
    return 0.5


def example_for_schema(json_schema: dict[str, Any], *, text: str = "Offline placeholder") -> Any:
    """Return a JSON value that validates against `json_schema`.

    Strings read "<text> (<field path>)", padded to `minLength` and cut to
    `maxLength`, so a reader sees at once that the content is not real and
    which field it fills; array items differ by their index.

    Raises `SchemaExampleError` for schemas it cannot satisfy (for example a
    pattern none of its candidate strings matches).
    """
    return _Walker(json_schema, text).value(json_schema, "")


def largest_for_schema(json_schema: dict[str, Any], *, fill: str = "\x01", text: str = "") -> Any:
    """The largest JSON value `json_schema` accepts: every list and string at its cap.

    Strings start with their field path (so items differ) and are padded
    with `fill`; the default, a control character, is what costs the most
    in a checkpoint's JSON text (six bytes: "\\u0001"). Used to prove that
    no schema-valid answer outgrows what a checkpoint can store, and by the
    OpenAI-compatible double to answer the largest valid answer.

    Raises `SchemaExampleError` where the schema has no upper bound.
    """
    return _LargestWalker(json_schema, text, fill).value(json_schema, "")
