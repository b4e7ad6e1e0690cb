"""Runs repair sloppy answers without paying for another call, and show what was repaired.

The local OpenAI-compatible server answers through the real client: each
day's sessions out of start-time order, with an over-long description and a
session repeated. The programme still completes with one call per LLM step,
and each day's step record (and `GET /v1/runs/{id}`) lists its repairs. An
answer that cannot be repaired still costs a schema retry.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from devtools.openai_server import Reply
from shared.llm.schema_example import example_for_schema
from tests.helpers.stack import Stack, create_project

DAYS = 5
WORDS = "participants map their town and turn what they find into a shared mural "


def _schema_of(request: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    spec = request["response_format"]["json_schema"]
    return spec["name"], spec["schema"]


def sloppy_day(schema: dict[str, Any]) -> str:
    """A day as a careless model writes it: reversed, one text too long, one session twice."""
    answer = example_for_schema(schema, text="Generated day")
    sessions = answer["sessions"]
    sessions[0]["description"] = (WORDS * 40)[:2500]
    sessions.append(copy.deepcopy(sessions[1]))
    sessions.reverse()
    return json.dumps(answer)


def _programme(stack: Stack) -> dict[str, Any]:
    project_id = create_project(stack, duration_days=DAYS)
    stack.llm.requests.clear()
    response = stack.post(f"/v1/projects/{project_id}/programme", {})
    assert response.status_code == 202, response.get_json()
    created: dict[str, Any] = response.get_json()
    return created


def _day_steps(stack: Stack, run_id: str) -> list[dict[str, Any]]:
    steps = stack.run_view(run_id)["steps"]
    return [s for s in steps if s["id"].startswith("generate-day-")]


def test_sloppy_days_are_repaired_with_one_call_per_step(stack: Stack) -> None:
    def answer(request: dict[str, Any]) -> Reply:
        name, schema = _schema_of(request)
        return Reply(content=sloppy_day(schema)) if name == "DaySessions" else Reply()

    created = _programme(stack)
    stack.llm.responder = answer

    stack.deliver_all()

    programme = stack.get(f"/v1/programmes/{created['programmeId']}").get_json()
    assert programme["status"] == "COMPLETED", programme
    assert len(stack.llm.requests) == 1 + DAYS  # the structure, then one call per day
    for day in programme["days"]:
        starts = [s["start_time"] for s in day["sessions"]]
        assert starts == sorted(starts)
        titles = [s["title"] for s in day["sessions"]]
        assert len(titles) == len(set(titles)), "the repeated session was dropped"
        assert all(len(s["description"]) <= 1500 for s in day["sessions"])
    days = _day_steps(stack, created["runId"])
    assert len(days) == DAYS
    for step in days:
        assert step["status"] == "COMPLETED"
        assert step["attempts"] == 1
        assert "sessions: sorted by start_time" in step["repairs"]
        assert "sessions: dropped 1 exact duplicate" in step["repairs"]
        assert any(r.startswith("description: trimmed from 2500 to ") for r in step["repairs"])


def test_an_unrepairable_answer_still_costs_a_retry(stack: Stack) -> None:
    broken: list[str] = []

    def answer(request: dict[str, Any]) -> Reply:
        name, schema = _schema_of(request)
        if name != "DaySessions":
            return Reply()
        if not broken:  # the first day answer misses a field: no repair can invent it
            content = json.loads(sloppy_day(schema))
            del content["sessions"][0]["methodology"]
            broken.append(json.dumps(content))
            return Reply(content=broken[0])
        return Reply(content=sloppy_day(schema))

    created = _programme(stack)
    stack.llm.responder = answer

    stack.deliver_all()

    programme = stack.get(f"/v1/programmes/{created['programmeId']}").get_json()
    assert programme["status"] == "COMPLETED", programme
    assert len(stack.llm.requests) == 1 + DAYS + 1  # one schema retry, for the missing field
    retried = [m for r in stack.llm.requests for m in r["messages"] if "rejected" in m["content"]]
    assert len(retried) == 1
    assert "methodology" in retried[0]["content"]
    for step in _day_steps(stack, created["runId"]):
        assert step["status"] == "COMPLETED"
        assert step["usage"]["calls"] in (1, 2)
        assert "sessions: sorted by start_time" in step["repairs"]
    assert sum(s["usage"]["calls"] for s in _day_steps(stack, created["runId"])) == DAYS + 1
