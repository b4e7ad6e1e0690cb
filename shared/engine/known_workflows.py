"""The workflows this deployment knows, by id (= the event name).

One `WorkflowRegistry` per process, exported by the front door as
`shared.engine.registry`: each workflow module registers its workflow at
import, and the runner, resume and the api look workflows up here.
"""

from __future__ import annotations

from typing import Any

from shared.engine.workflow import Workflow


class WorkflowRegistry:
    def __init__(self) -> None:
        self._workflows: dict[str, Workflow[Any]] = {}

    def register(self, workflow: Workflow[Any]) -> Workflow[Any]:
        existing = self._workflows.get(workflow.id)
        if existing is not None and existing is not workflow:
            raise ValueError(f"workflow {workflow.id!r} registered twice")
        self._workflows[workflow.id] = workflow
        return workflow

    def get(self, workflow_id: str) -> Workflow[Any] | None:
        return self._workflows.get(workflow_id)

    def unregister(self, workflow_id: str) -> None:
        """Forget a workflow (tests that declare one of their own)."""
        self._workflows.pop(workflow_id, None)

    def listening(self, event_name: str) -> list[Workflow[Any]]:
        """The workflows an event of this name starts, by id."""
        return [w for w in self.all_workflows() if event_name in w.event_names]

    def all_workflows(self) -> list[Workflow[Any]]:
        return sorted(self._workflows.values(), key=lambda w: w.id)


registry = WorkflowRegistry()
