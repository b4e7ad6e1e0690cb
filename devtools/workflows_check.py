"""`make workflows-check`: what a change to the workflows' declarations does to runs in flight.

Runs started by one version of a workflow continue on the next after a
deploy (docs/architecture.md, "Deploys and reruns"). This compares today's
declarations (`shared.engine.declaration` of every registered workflow) with
the committed snapshot `shared/workflows/versions.json` and, when they
differ, names each change and its effect on runs started by the snapshot's
version, then fails, until the snapshot is updated on purpose:

    python -m devtools.workflows_check            # check (exit 1 on a change)
    python -m devtools.workflows_check --update   # record today's declarations

Whether old checkpoints of a step still fit a changed output model is
judged by building the fullest value the snapshot's schema allows (every
optional field filled, `shared.llm.schema_example`) and validating it with
today's model: a removed field of a strict model, a new required field or a
changed type fail it. A constraint only tightened (a shorter maximum, say)
may pass this check and still refuse some old checkpoints: the engine's
rules cover those runs either way (re-run, or FAILED with the reason).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

import shared.workflows  # noqa: F401  (registers every workflow)
from shared.engine import Workflow, declaration, registry, version_of_declaration
from shared.errors import SchemaExampleError
from shared.llm.schema_example import example_for_schema

SNAPSHOT = Path(__file__).resolve().parent.parent / "shared" / "workflows" / "versions.json"
UPDATE_COMMAND = "make workflows-snapshot"


@dataclass(frozen=True)
class Change:
    """One difference between the snapshot and today, and what it does to runs in flight."""

    workflow: str
    what: str
    effect: str
    # The rules end such runs FAILED (or cannot run them at all).
    breaks: bool = False

    def __str__(self) -> str:
        mark = "BREAKS" if self.breaks else "safe"
        return f"  - [{mark}] {self.what}\n      runs in flight: {self.effect}"


def snapshot_of(workflows: list[Workflow[Any]]) -> dict[str, Any]:
    """The snapshot document of these workflows: each one's version and declaration."""
    entries: dict[str, Any] = {}
    for workflow in sorted(workflows, key=lambda w: w.id):
        declared = declaration(workflow)
        entries[workflow.id] = {"version": workflow.version, "stages": declared["stages"]}
    return {
        "comment": (
            "The workflows' declarations as last deployed on purpose; "
            f"`make workflows-check` compares with it, `{UPDATE_COMMAND}` rewrites it."
        ),
        "workflows": entries,
    }


def _fits(old_schema: dict[str, Any], model: type[BaseModel]) -> str | None:
    """None if a full value of the old schema validates with `model`; else why not."""
    try:
        value = example_for_schema(old_schema)
    except SchemaExampleError as exc:
        return f"no value of the old schema could be built ({exc})"
    try:
        model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the output"
        return f"{where}: {first['msg']}"
    return None


def _stage_changes(workflow: Workflow[Any], old: list[dict[str, Any]]) -> list[Change]:
    changes: list[Change] = []
    wid = workflow.id
    new = declaration(workflow)["stages"]
    old_by_id = {s["id"]: s for s in old}
    new_by_id = {s["id"]: s for s in new}
    stages_by_id = {stage.id: stage for stage in workflow.stages}
    for position, stage in enumerate(new):
        sid = stage["id"]
        before = old_by_id.get(sid)
        if before is None or before["kind"] != stage["kind"]:
            was = "" if before is None else f" (was a {before['kind']})"
            later = [s["id"] for s in new[position + 1 :] if s["id"] in old_by_id]
            effect = "they run it when they reach it"
            if later:
                effect += (
                    f"; a run already past it (at {later[0]} or later) runs it after "
                    "those later steps, whose checkpoints are reused"
                )
            changes.append(Change(wid, f"{stage['kind']} {sid} added{was}", effect))
            continue
        if before["output"] != stage["output"]:
            why = _fits(before["output"], stages_by_id[sid].output)
            if why is None:
                changes.append(
                    Change(
                        wid,
                        f"{sid}: output model changed",
                        "old checkpoints still validate: reused",
                    )
                )
            elif stage["effects"]:
                changes.append(
                    Change(
                        wid,
                        f"{sid}: output model changed; old checkpoints do not validate ({why})",
                        f'runs that completed {sid} end FAILED: "workflow changed: step '
                        f"{sid}'s output no longer fits\" (it writes documents, so it is "
                        "not run again)",
                        breaks=True,
                    )
                )
            else:
                changes.append(
                    Change(
                        wid,
                        f"{sid}: output model changed; old checkpoints do not validate ({why})",
                        f"runs that completed {sid} run it again (it writes nothing; its "
                        "model call, if any, is paid again)",
                    )
                )
    for stage in old:
        sid = stage["id"]
        if sid not in new_by_id or new_by_id[sid]["kind"] != stage["kind"]:
            changes.append(
                Change(
                    wid,
                    f"{stage['kind']} {sid} removed",
                    f"its checkpoints are ignored; runs that had not reached {sid} never run it",
                )
            )
    old_order = [s["id"] for s in old if s["id"] in new_by_id]
    new_order = [s["id"] for s in new if s["id"] in old_by_id]
    if old_order != new_order:
        changes.append(
            Change(
                wid,
                f"steps reordered: {' -> '.join(old_order)} is now {' -> '.join(new_order)}",
                "they continue in the new order; completed steps are reused wherever they are",
            )
        )
    return changes


def compare(snapshot: dict[str, Any], workflows: list[Workflow[Any]]) -> list[Change]:
    """Every change from `snapshot` to today's `workflows`, with its effect on runs in flight."""
    recorded: dict[str, Any] = snapshot.get("workflows", {})
    today = {w.id: w for w in workflows}
    changes: list[Change] = []
    for wid, workflow in sorted(today.items()):
        entry = recorded.get(wid)
        if entry is None:
            changes.append(Change(wid, "workflow added", "none are in flight"))
            continue
        if entry["version"] == workflow.version:
            continue
        found = _stage_changes(workflow, entry["stages"])
        if not found:
            old = version_of_declaration({"workflow": wid, "stages": entry["stages"]})
            found = [
                Change(
                    wid,
                    f"version {entry['version']} is now {workflow.version} "
                    f"(the snapshot's declaration hashes to {old})",
                    "unknown: the snapshot was edited by hand; rewrite it",
                    breaks=True,
                )
            ]
        changes.extend(found)
    for wid in sorted(set(recorded) - set(today)):
        changes.append(
            Change(
                wid,
                "workflow removed",
                f"runs of {wid} in flight end FAILED (unknown workflow) at their next delivery",
                breaks=True,
            )
        )
    return changes


def report(changes: list[Change], snapshot: dict[str, Any], workflows: list[Workflow[Any]]) -> str:
    recorded = snapshot.get("workflows", {})
    versions = {w.id: w.version for w in workflows}
    lines = [f"workflows-check: the declarations differ from {SNAPSHOT.name}:"]
    for wid in sorted({c.workflow for c in changes}):
        old = recorded.get(wid, {}).get("version", "none")
        lines.append(f"{wid} (version {old} -> {versions.get(wid, 'none')}):")
        lines.extend(str(c) for c in changes if c.workflow == wid)
    breaking = sum(1 for c in changes if c.breaks)
    if breaking:
        lines.append(
            f"{breaking} change(s) break runs started by the snapshot's version "
            "(they end FAILED rather than continue)."
        )
    else:
        lines.append("No change breaks runs in flight, but the snapshot must record them.")
    lines.append(
        f"If this is intended, record it: {UPDATE_COMMAND} "
        "(and commit shared/workflows/versions.json with the change)."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None, workflows: list[Workflow[Any]] | None = None) -> int:
    """The command; `workflows` replaces the registered ones (tests)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--update", action="store_true", help="rewrite the snapshot")
    parser.add_argument("--snapshot", type=Path, default=SNAPSHOT)
    args = parser.parse_args(argv)
    if workflows is None:
        workflows = registry.all_workflows()
    if args.update:
        text = json.dumps(snapshot_of(workflows), indent=1, sort_keys=True) + "\n"
        args.snapshot.write_text(text)
        print(f"wrote {args.snapshot}: " + ", ".join(f"{w.id} {w.version}" for w in workflows))
        return 0
    if not args.snapshot.exists():
        print(f"workflows-check: no snapshot at {args.snapshot}; create it: {UPDATE_COMMAND}")
        return 1
    snapshot = json.loads(args.snapshot.read_text())
    changes = compare(snapshot, workflows)
    if not changes:
        print(f"workflows-check: {len(workflows)} workflows as recorded in {args.snapshot.name}")
        return 0
    print(report(changes, snapshot, workflows))
    return 1


if __name__ == "__main__":
    sys.exit(main())
