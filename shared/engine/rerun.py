"""Rerunning a finished run from one of its steps, with new input: a new run that reuses the old.

The new run is of the same workflow and tenant. Every step the source
completed before `fromStep` is copied into it as a completed step
(`reusedFrom` names the source): the runner replays it like any checkpoint,
so it is neither executed nor billed again. `fromStep` and everything
declared after it run. `fromStep` is a step id, a fan-out's id (all of its
items) or one fan-out item (`generate-day-3`: that item only; its sibling
items are reused, which is "regenerate one day").

Overrides of the input are checked against what the reused steps consumed:
each step declares the input fields it reads (`inputs=`, enforced when it
runs), and an override of a field a reused step read would make the new
run's checkpoints disagree with its own input, so it is refused naming the
fields and the steps (rerun from the earliest of them instead). Fields the
caller's subject assigns (a new session's id, say) cannot be overridden at
all. The merged input must validate against the workflow's input model.

Linking: the new run is created with `rerunOf`, then the source's `reruns`
list gains it (a conditional update, retried when the source moved); should
that fail, the rerun's first delivery makes the link.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from shared.engine.records import RunRecord, StepRecord, StepStatus
from shared.engine.store import LoadedRun, RunPatch, RunStore
from shared.engine.workflow import NO_SIGNAL_CHECKPOINT, FanOut, Stage, Wait, Workflow
from shared.errors import Conflict, InvalidInput, StaleRun

log = logging.getLogger(__name__)

LINK_TRIES = 5


@dataclass(frozen=True)
class RerunPlan:
    """What a rerun reuses and runs; built (and checked) before anything is written."""

    source: RunRecord
    from_step: str
    # The source's completed steps the new run starts with, by id, in the source's order.
    reused: dict[str, StepRecord]
    # The source's input with the overrides, validated (subject fields still the source's).
    run_input: BaseModel
    # The fields the caller overrode (python names).
    overridden: frozenset[str]


def _stage_index(workflow: Workflow[Any], source: RunRecord, from_step: str) -> tuple[int, bool]:
    """The stage `from_step` names, and whether it names one fan-out item only."""
    for index, stage in enumerate(workflow.stages):
        if stage.id == from_step:
            return index, False
        if isinstance(stage, FanOut) and stage.item_of(from_step) is not None:
            if from_step not in source.steps:
                raise InvalidInput(f"fromStep {from_step!r}: the source run has no such step")
            return index, True
    known = [s.id for s in workflow.stages]
    raise InvalidInput(f"fromStep {from_step!r} is not a step of {workflow.id} (steps: {known})")


def _field_names(model: type[BaseModel], given: Mapping[str, Any]) -> dict[str, str]:
    """Each given key -> the input model's field (by alias or name); unknown keys refused."""
    by_key: dict[str, str] = {}
    for name, info in model.model_fields.items():
        by_key[name] = name
        if info.alias:
            by_key[info.alias] = name
    unknown = sorted(key for key in given if key not in by_key)
    if unknown:
        raise InvalidInput(f"input: unknown field(s) {unknown}")
    return {key: by_key[key] for key in given}


def _alias(model: type[BaseModel], name: str) -> str:
    return model.model_fields[name].alias or name


def _reusable(stage: Stage, record: StepRecord) -> bool:
    """A completed checkpoint that today's output model still reads."""
    if record.status is not StepStatus.COMPLETED or record.output is None:
        return False
    if isinstance(stage, Wait) and record.output == NO_SIGNAL_CHECKPOINT:
        return True  # a wait that ended with no value (slept, skipped, timed out)
    try:
        stage.output.model_validate_json(record.output)
    except ValidationError:
        return False
    return True


def plan_rerun(
    workflow: Workflow[Any],
    source: RunRecord,
    from_step: str,
    overrides: Mapping[str, Any],
    *,
    assigned: Sequence[str] = (),
) -> RerunPlan:
    """Check a rerun request against the source run; raises Conflict (409) or InvalidInput (422).

    `assigned`: input fields (python names) the caller sets for the new run
    itself (its subject's ids); overriding them is refused.
    """
    if not source.status.terminal:
        raise Conflict(
            f"run {source.run_id} is {source.status.value}: rerun it once it has finished"
        )
    from_index, one_item = _stage_index(workflow, source, from_step)
    model = workflow.input_model
    names = _field_names(model, overrides)
    # An override that repeats the source's value changes nothing: not an override.
    overrides = {
        key: value
        for key, value in overrides.items()
        if source.input.get(_alias(model, names[key]), source.input.get(names[key])) != value
    }
    names = {key: names[key] for key in overrides}
    overridden = frozenset(names.values())
    fixed = sorted(_alias(model, n) for n in overridden & set(assigned))
    if fixed:
        raise InvalidInput(f"input: {fixed} cannot be overridden (the rerun sets them)")

    reused: dict[str, StepRecord] = {}
    consumed: dict[str, list[str]] = {}
    order = [*source.step_order, *(s for s in source.steps if s not in source.step_order)]
    for step_id in order:
        record = source.steps[step_id]
        try:
            stage = workflow.stage_of(step_id)
        except KeyError:
            continue  # a step today's declaration no longer has
        index = workflow.stages.index(stage)
        before = index < from_index or (index == from_index and one_item and step_id != from_step)
        if not before or not _reusable(stage, record):
            continue
        reused[step_id] = record.model_copy(
            update={"usage": None, "repairs": [], "attempts": 0, "reused_from": source.run_id}
        )
        reads = set(model.model_fields) if stage.inputs is None else set(stage.inputs)
        for name in sorted(overridden & reads):
            consumed.setdefault(_alias(model, name), []).append(step_id)
    if consumed:
        listed = "; ".join(f"{field} (read by {', '.join(s)})" for field, s in consumed.items())
        raise InvalidInput(
            f"input: {listed} was consumed before fromStep {from_step!r}: "
            "rerun from the earliest of those steps to change it"
        )

    merged = dict(source.input)
    for key, value in overrides.items():
        merged.pop(names[key], None)
        merged[_alias(model, names[key])] = value
    try:
        # As strict as the create routes: JSON types only ("0.3" is not 0.3).
        run_input = model.model_validate_json(json.dumps(merged), strict=True)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'input'}: {error['msg']}"
            for error in exc.errors()
        )
        raise InvalidInput(f"input: {problems}") from None
    return RerunPlan(
        source=source,
        from_step=from_step,
        reused=reused,
        run_input=run_input,
        overridden=overridden,
    )


def rerun_record(plan: RerunPlan, run: RunRecord) -> RunRecord:
    """`run` (a new QUEUED run) starting with the plan's reused steps, linked to its source."""
    return run.model_copy(
        update={
            "steps": dict(plan.reused),
            "step_order": list(plan.reused),
            "rerun_of": plan.source.run_id,
            "rerun_from": plan.from_step,
        }
    )


def link_source(store: RunStore, source_id: str, rerun_id: str, now: datetime) -> bool:
    """Add the rerun to its source's `reruns`; False if the source could not be updated.

    Conditional on the source's version, retried when it moved (another
    rerun linking, a resume): the list is never overwritten with a stale one.
    Called by `Engine.rerun` after creating the rerun, and again by the
    rerun's first delivery, so a link lost to a crash or a store error in
    between is made then (already there: nothing is written).
    """
    for _ in range(LINK_TRIES):
        loaded: LoadedRun | None = store.load(source_id)
        if loaded is None:
            return False
        reruns = loaded.record.reruns
        if rerun_id in reruns:
            return True
        try:
            patch = RunPatch(fields={"reruns": [*reruns, rerun_id]})
            store.update(source_id, loaded.version, patch)
        except StaleRun:
            continue
        except Exception:
            # The rerun exists and runs; its first delivery links it again.
            log.exception("linking the rerun to its source failed", extra={"runId": rerun_id})
            return False
        return True
    log.error(
        "could not link the rerun to its source",
        extra={"runId": rerun_id, "rerunOf": source_id, "at": now.isoformat()},
    )
    return False
