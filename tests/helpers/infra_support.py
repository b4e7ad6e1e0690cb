"""Reading infra/*.tf for the wiring tests (python-hcl2 v8, no provider needed).

`Infra.load()` parses every .tf file into plain dicts. Expressions come back as
strings such as "${google_pubsub_topic.events.id}"; helpers here resolve
`local.X` references, collect environment variable names and references.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

from devtools import REPO_ROOT

INFRA_DIR = REPO_ROOT / "infra"
CONFIG_PY = REPO_ROOT / "shared" / "config.py"

_OPTIONS = SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, with_comments=False
)

VAR_REF = re.compile(r"(?<![\w.])var\.([A-Za-z_][A-Za-z0-9_-]*)")
LOCAL_REF = re.compile(r"(?<![\w.])local\.([A-Za-z_][A-Za-z0-9_-]*)")
RESOURCE_REF = re.compile(r"(?<![\w.])(google_[a-z0-9_]+)\.([A-Za-z_][A-Za-z0-9_-]*)")
DATA_REF = re.compile(r"(?<![\w.])data\.([a-z0-9_]+)\.([A-Za-z_][A-Za-z0-9_-]*)")
# `NAME = ...` inside an object expression: an environment variable key.
ENV_KEY = re.compile(r"(?<![\w.])([A-Z][A-Z0-9_]*)\s*=(?!=)")
# The settings shared/config.py reads: each field's validation_alias="NAME".
CONFIG_READ = re.compile(r"\bvalidation_alias=\s*[\"']([A-Z][A-Z0-9_]*)[\"']")


@functools.lru_cache(maxsize=64)
def _parsed(text: str) -> dict[str, Any]:
    parsed: dict[str, Any] = hcl2.loads(text, serialization_options=_OPTIONS)
    return parsed


def parse_tf(text: str) -> dict[str, Any]:
    """`text` parsed; each text is parsed once a process (python-hcl2 takes ~0.1 s a file).

    A copy each time, so a test that edits what it got cannot change another's.
    """
    return copy.deepcopy(_parsed(text))


def strings_in(value: Any) -> Iterator[str]:
    """Every string value (not key) nested in a parsed structure."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def config_env_names(text: str) -> set[str]:
    """Environment variable names of the settings fields in config.py source."""
    return set(CONFIG_READ.findall(text))


def unwrap(expr: str) -> str:
    """'${x}' -> 'x'; a template or literal is returned unchanged."""
    if expr.startswith("${") and expr.endswith("}") and expr.count("${") == 1:
        return expr[2:-1]
    return expr


@dataclass
class Infra:
    files: dict[str, dict[str, Any]]
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    data: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, infra_dir: Path = INFRA_DIR) -> Infra:
        files = {p.name: parse_tf(p.read_text(encoding="utf-8")) for p in infra_dir.glob("*.tf")}
        return cls.from_parsed(files)

    @classmethod
    def from_parsed(cls, files: dict[str, dict[str, Any]]) -> Infra:
        infra = cls(files=files)
        for parsed in files.values():
            for block in parsed.get("resource", []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        assert (rtype, name) not in infra.resources, f"duplicate {rtype}.{name}"
                        infra.resources[(rtype, name)] = body
            for block in parsed.get("data", []):
                for dtype, named in block.items():
                    for name, body in named.items():
                        infra.data[(dtype, name)] = body
            for block in parsed.get("variable", []):
                infra.variables.update(block)
            for block in parsed.get("locals", []):
                infra.locals.update(block)
            for block in parsed.get("output", []):
                infra.outputs.update(block)
        return infra

    # --- lookups --------------------------------------------------------

    def of_type(self, rtype: str) -> dict[str, dict[str, Any]]:
        return {name: body for (t, name), body in self.resources.items() if t == rtype}

    def one(self, rtype: str, **attrs: str) -> tuple[str, dict[str, Any]]:
        """The single resource of `rtype` whose attributes equal `attrs`."""
        found = [
            (name, body)
            for name, body in self.of_type(rtype).items()
            if all(body.get(k) == v for k, v in attrs.items())
        ]
        assert len(found) == 1, f"expected one {rtype} with {attrs}, found {[n for n, _ in found]}"
        return found[0]

    def local_value(self, name: str) -> Any:
        assert name in self.locals, f"local.{name} is not defined"
        return self.locals[name]

    def resolve(self, expr: str, depth: int = 0) -> str:
        """Inline `${local.X}` interpolations whose value is a string."""
        assert depth < 10, f"local references nest too deep in {expr!r}"

        def inline(match: re.Match[str]) -> str:
            value = self.local_value(match[1])
            if not isinstance(value, str):
                return match[0]
            return self.resolve(value, depth + 1)

        return re.sub(r"\$\{local\.([A-Za-z_][A-Za-z0-9_-]*)\}", inline, expr)

    def expand_for_each(self, body: dict[str, Any]) -> list[Any]:
        """The instances' `each.value`s of a for_each over a local (else [body])."""
        for_each = body.get("for_each")
        if not isinstance(for_each, str):
            return [body]
        match = LOCAL_REF.search(for_each)
        if match is None:
            return [body]  # over a variable: nothing to expand statically
        value = self.local_value(match[1])
        if isinstance(value, dict):
            return list(value.values())
        assert isinstance(value, list), f"local.{match[1]} is neither a map nor a list"
        return value

    def env_names(self, expr: Any, depth: int = 0) -> set[str]:
        """Environment variable names an environment_variables value sets."""
        assert depth < 10, "local references nest too deep"
        if isinstance(expr, dict):
            return set(expr)
        assert isinstance(expr, str), f"unexpected environment_variables value {expr!r}"
        names = set(ENV_KEY.findall(expr))
        for local in LOCAL_REF.findall(expr):
            names |= self.env_names(self.local_value(local), depth + 1)
        return names

    def env_values(self, expr: Any) -> dict[str, str]:
        """NAME -> value expression, for the map-literal parts of `expr`."""
        if isinstance(expr, dict):
            return {k: str(v) for k, v in expr.items()}
        values: dict[str, str] = {}
        for local in LOCAL_REF.findall(str(expr)):
            values.update(self.env_values(self.local_value(local)))
        return values

    def all_strings(self, *, exclude_files: tuple[str, ...] = ()) -> list[str]:
        return [
            s
            for name, parsed in self.files.items()
            if name not in exclude_files
            for s in strings_in(parsed)
        ]

    def text_of(self, value: Any) -> str:
        """A parsed structure as one string, with its for_each local inlined."""
        parts = [json.dumps(value, sort_keys=True)]
        if isinstance(value, dict):
            for item in self.expand_for_each(value):
                if item is not value:
                    parts.append(json.dumps(item, sort_keys=True))
        return "\n".join(parts)


def block(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The single nested block `name` of a resource body."""
    value = body.get(name)
    assert isinstance(value, list), f"no {name!r} block"
    assert len(value) == 1, f"expected one {name!r} block"
    inner = value[0]
    assert isinstance(inner, dict)
    return inner


def function(infra: Infra, entry_point: str) -> tuple[str, dict[str, Any]]:
    found = [
        (name, body)
        for name, body in infra.of_type("google_cloudfunctions2_function").items()
        if block(body, "build_config").get("entry_point") == entry_point
    ]
    assert len(found) == 1, f"expected one function with entry point {entry_point!r}"
    return found[0]


def env_of(infra: Infra, entry_point: str) -> Any:
    _, body = function(infra, entry_point)
    return block(body, "service_config").get("environment_variables", {})


def index_specs(infra: Infra) -> list[tuple[str, list[tuple[str, str]]]]:
    specs = []
    for body in infra.of_type("google_firestore_index").values():
        for item in infra.expand_for_each(body):
            fields = [(f["field_path"], f["order"]) for f in item["fields"]]
            specs.append((item["collection"], fields))
    return specs
