"""The workflows this deployment knows, by id (= the event name)."""

from __future__ import annotations

from typing import Any

from shared.engine.workflow import Workflow

_workflows: dict[str, Workflow[Any]] = {}


def register(workflow: Workflow[Any]) -> Workflow[Any]:
    existing = _workflows.get(workflow.id)
    if existing is not None and existing is not workflow:
        raise ValueError(f"workflow {workflow.id!r} registered twice")
    _workflows[workflow.id] = workflow
    return workflow


def get(workflow_id: str) -> Workflow[Any] | None:
    return _workflows.get(workflow_id)


def unregister(workflow_id: str) -> None:
    """Forget a workflow (tests that declare one of their own)."""
    _workflows.pop(workflow_id, None)


def listening(event_name: str) -> list[Workflow[Any]]:
    """The workflows an event of this name starts, by id."""
    return [w for w in all_workflows() if event_name in w.event_names]


def all_workflows() -> list[Workflow[Any]]:
    return sorted(_workflows.values(), key=lambda w: w.id)
