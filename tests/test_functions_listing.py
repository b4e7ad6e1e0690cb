"""`GET /v1/functions` lists the registered workflows and their steps, as declared in code."""

from __future__ import annotations

from shared.engine import registry
from tests.helpers.stack import Stack


def test_functions_lists_each_workflow_with_its_steps_in_order(stack: Stack):
    response = stack.get("/v1/functions")

    workflows = {f["id"]: f for f in response.get_json()["functions"]}
    assert workflows["brainstorm.generate-seeds"]["steps"] == [
        "load-session",
        "generate-seeds",
        "save-seeds",
        "update-session",
    ]


def test_functions_shows_each_workflows_version(stack: Stack):
    response = stack.get("/v1/functions")

    workflows = {f["id"]: f for f in response.get_json()["functions"]}
    programme = registry.get("programme.generate-from-concept")
    assert programme is not None
    assert workflows[programme.id]["version"] == programme.version
