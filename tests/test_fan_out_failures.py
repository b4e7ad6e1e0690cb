"""A fan-out records each failing item's own error, not only the first one's."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from devtools.openai_server import Reply
from tests.helpers.stack import Stack, create_project

_DAY = re.compile(r'"day_number":\s*(\d+)')


def _day_of(request: dict[str, Any]) -> int | None:
    match = _DAY.search(json.dumps(request.get("messages", [])).replace('\\"', '"'))
    return int(match.group(1)) if match else None


def _start_programme(stack: Stack, days: int) -> str:
    project_id = create_project(stack, duration_days=days)
    response = stack.post(f"/v1/projects/{project_id}/programme", {})
    assert response.status_code == 202, response.get_json()
    run_id: str = response.get_json()["runId"]
    return run_id


def test_every_item_that_fails_for_good_keeps_its_own_error(stack: Stack):
    def answer(request: dict[str, Any]) -> Reply:
        day = _day_of(request)
        if day in (2, 3):
            return Reply(status=400, content=f"day {day} was refused")
        return Reply()

    stack.llm.responder = answer
    run_id = _start_programme(stack, days=5)

    stack.deliver_all()

    run = stack.run_view(run_id)
    assert run["status"] == "FAILED"
    steps = {s["id"]: s for s in run["steps"]}
    for day in (2, 3):
        assert steps[f"generate-day-{day}"]["status"] == "FAILED"
        assert f"day {day} was refused" in steps[f"generate-day-{day}"]["error"]
    for day in (1, 4, 5):
        assert steps[f"generate-day-{day}"]["status"] == "COMPLETED"


def test_every_item_that_fails_transiently_is_recorded_retrying_then_completes(stack: Stack):
    failed_once: set[int] = set()
    lock = threading.Lock()

    def answer(request: dict[str, Any]) -> Reply:
        day = _day_of(request)
        with lock:
            if day in (2, 3) and day not in failed_once:
                failed_once.add(day)
                return Reply(status=503, content=f"day {day} overloaded")
        return Reply()

    stack.llm.responder = answer
    run_id = _start_programme(stack, days=5)
    [message] = stack.pull()

    first = stack.push(message.data, dict(message.attributes))

    assert first.status == 500  # redelivery asked for
    steps = {s["id"]: s for s in stack.run_view(run_id)["steps"]}
    for day in (2, 3):
        assert steps[f"generate-day-{day}"]["status"] == "RETRYING"
        assert "503" in steps[f"generate-day-{day}"]["error"]
    stack.push(message.data, dict(message.attributes))
    run = stack.run_view(run_id)
    assert run["status"] == "COMPLETED"
    steps = {s["id"]: s for s in run["steps"]}
    assert [steps[f"generate-day-{d}"]["attempts"] for d in range(1, 6)] == [1, 2, 2, 1, 1]
