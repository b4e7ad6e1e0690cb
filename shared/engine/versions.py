"""A workflow's version: a stable hash of what its runs' checkpoints depend on.

A run started by version N may continue on version N+1 (a redelivery, a
resume or a retry after a deploy runs the new code against the old run's
checkpoints). What decides whether that is safe is the declaration alone:
the step ids and their order, which stage is a fan-out, and the JSON schema
of each step's output model (a checkpoint is that model's JSON). The version
is a hash of exactly that, so it changes when, and only when, one of them
changes; prompts, temperatures and step bodies are not part of it (a run
continues across those without any question of fit).

`declaration` is also what `make workflows-check` snapshots and compares
(`devtools.workflows_check`), so the check and the version cannot disagree.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import BaseModel


class DeclaredStage(Protocol):
    """What a version depends on of a stage (`workflow.Step` or `workflow.FanOut`)."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def output(self) -> type[BaseModel]: ...
    @property
    def pure(self) -> bool: ...


class Declared(Protocol):
    """A workflow as far as its version goes (`workflow.Workflow`)."""

    @property
    def id(self) -> str: ...
    @property
    def stages(self) -> Sequence[DeclaredStage]: ...


# Characters of the sha256 hex digest kept: 48 bits, ample for telling a
# handful of versions of one workflow apart, short enough to read.
VERSION_CHARS = 12


# Schema keywords that document rather than constrain: a checkpoint fits or
# not regardless of them, so editing a docstring is not a new version.
_ANNOTATIONS = frozenset({"title", "description", "examples"})
# Keywords whose value maps names (of properties, of definitions) to schemas.
_NAMED_SCHEMAS = frozenset({"properties", "$defs", "patternProperties"})


def _structural(schema: Any, *, names: bool = False) -> Any:
    if isinstance(schema, list):
        return [_structural(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if names:  # keys are names chosen by the model, not keywords
        return {name: _structural(value) for name, value in schema.items()}
    return {
        key: _structural(value, names=key in _NAMED_SCHEMAS)
        for key, value in schema.items()
        if key not in _ANNOTATIONS
    }


def output_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema a step's checkpoint must fit, as pydantic validates it, minus its prose."""
    return dict(_structural(model.model_json_schema(mode="validation")))


def declaration(workflow: Declared) -> dict[str, Any]:
    """What the version is computed from, in a canonical (JSON-ready) form.

    `effects` says whether the step may write documents (not `pure`, not
    declared `writes=False`; a wait writes when it parks):
    kept beside the hashed part because `workflows-check` needs it to say
    what a change does to runs in flight, but not hashed (marking a step
    pure changes no checkpoint).
    """
    return {
        "workflow": workflow.id,
        "stages": [
            {
                "id": stage.id,
                "kind": stage.kind,
                "effects": bool(getattr(stage, "writes", True)) and not stage.pure,
                "output": output_schema(stage.output),
            }
            for stage in workflow.stages
        ],
    }


def _hashed(declared: dict[str, Any]) -> dict[str, Any]:
    return {
        "workflow": declared["workflow"],
        "stages": [
            {"id": s["id"], "kind": s["kind"], "output": s["output"]} for s in declared["stages"]
        ],
    }


def version_of_declaration(declared: dict[str, Any]) -> str:
    """The version of a declaration (as `declaration` returns or a snapshot holds it)."""
    text = json.dumps(_hashed(declared), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:VERSION_CHARS]


def version_of(workflow: Declared) -> str:
    return version_of_declaration(declaration(workflow))
