"""Tokens and cost: on each step, totalled on the run, and per tenant, day and workflow.

The day's usage document is incremented in the same commit as the step's
checkpoint, so crashes and duplicate deliveries neither lose nor double a
charge that the run's own record shows.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devtools.openai_server import Reply
from devtools.samples import WIZARD_ANSWERS
from tests.helpers.faults import CrashingStore, SimulatedCrash
from tests.helpers.stack import Stack

PROMPT, COMPLETION = 10, 20  # what the test server reports for every call
# $1000 / $2000 per million tokens: one call costs 10*1000/1e6 + 20*2000/1e6 = $0.05.
PRICES = {"test-model": {"inputPerMillion": 1000, "outputPerMillion": 2000}}
CALL_COST = 0.05


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {"LLM_PRICES": json.dumps(PRICES), "STEP_MAX_ATTEMPTS": "3", "LEASE_SECONDS": "1"}


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def usage(stack: Stack, query: str = "", tenant: str = "org-a") -> dict[str, Any]:
    query = query or f"?from={today()}&to={today()}"
    response = stack.get(f"/v1/usage{query}", tenant)
    assert response.status_code == 200, response.get_json()
    report: dict[str, Any] = response.get_json()
    return report


def calls(n: int) -> dict[str, Any]:
    return {
        "promptTokens": n * PROMPT,
        "completionTokens": n * COMPLETION,
        "totalTokens": n * (PROMPT + COMPLETION),
        "costUsd": pytest.approx(n * CALL_COST),
    }


def by_model(n: int) -> dict[str, Any]:
    """The split of `calls(n)` by model: all on the one model the stack calls."""
    return {"models": [{"model": "test-model", **calls(n)}]}


def test_a_runs_usage_totals_its_llm_steps_with_their_cost(stack: Stack):
    created = stack.post("/v1/project-sessions", WIZARD_ANSWERS).get_json()
    stack.deliver_all()

    run = stack.run_doc(created["runId"])
    listed = stack.get("/v1/runs").get_json()["runs"][0]

    assert run["usage"] == calls(2)  # extract-dna and generate-concept
    assert listed["usage"] == calls(2)


def test_a_runs_view_carries_its_usage_as_the_readme_and_the_console_read_it(stack: Stack):
    created = stack.post("/v1/project-sessions", WIZARD_ANSWERS).get_json()
    stack.deliver_all()

    view = stack.run_view(created["runId"])

    assert view["usage"] == calls(2)  # extract-dna and generate-concept, with their cost


def test_failed_attempts_are_charged_too(stack: Stack):
    stack.llm.script(Reply(content="not json"), Reply(content="not json"), Reply(status=500))
    created = stack.create_brainstorm()
    stack.deliver_all()

    run = stack.run_view(created["runId"])
    steps = {s["id"]: s for s in run["steps"]}

    assert run["status"] == "COMPLETED"
    assert steps["generate-seeds"]["attempts"] == 2
    # two unreadable answers (one attempt, with its schema retry), then the good answer
    assert stack.run_doc(created["runId"])["usage"] == calls(3)
    assert usage(stack)["totals"] == {"runs": 1, **calls(3), **by_model(3)}


def test_usage_is_reported_per_day_and_workflow_for_the_tenant_only(stack: Stack):
    for _ in range(2):
        stack.create_brainstorm()
    stack.post("/v1/project-sessions", WIZARD_ANSWERS)
    stack.post(
        "/v1/brainstorm-sessions", {"prompt": "Another tenant's exchange", "seedCount": 5}, "org-b"
    )
    stack.deliver_all(rounds=40)

    report = usage(stack)

    assert report["days"] == [
        {
            "day": today(),
            "workflow": "brainstorm.generate-seeds",
            "runs": 2,
            **calls(2),
            **by_model(2),
        },
        {
            "day": today(),
            "workflow": "project.generate-from-idea",
            "runs": 1,
            **calls(2),
            **by_model(2),
        },
    ]
    assert report["totals"] == {"runs": 3, **calls(4), **by_model(4)}
    assert usage(stack, tenant="org-b")["totals"] == {"runs": 1, **calls(1), **by_model(1)}


def test_days_outside_the_range_are_not_reported(stack: Stack):
    stack.create_brainstorm()
    stack.deliver_all()
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()

    report = usage(stack, f"?from=2026-01-01&to={yesterday}")

    assert report["days"] == []
    assert report["totals"]["runs"] == 0


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?from=2026-11-01",
        "?from=2026-11-02&to=2026-11-01",
        "?from=yesterday&to=2026-11-01",
        "?from=2024-01-01&to=2026-11-01",
        "?from=2026-11-01&to=2026-11-02&colour=red",
    ],
)
def test_a_bad_range_is_422(stack: Stack, query: str):
    response = stack.get(f"/v1/usage{query}")

    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["code"] == "invalid_input"


# -- exactly once -----------------------------------------------------------------


def assert_charged_once(stack: Stack, run_id: str) -> None:
    """The run's total equals its steps' usage, and the day's document equals the run's total."""
    doc = stack.run_doc(run_id)
    steps = [s.get("usage") or {} for s in doc["steps"].values()]
    assert doc["usage"]["totalTokens"] == sum(s.get("totalTokens", 0) for s in steps)
    totals = usage(stack)["totals"]
    assert totals["totalTokens"] == doc["usage"]["totalTokens"]
    assert totals["costUsd"] == pytest.approx(doc["usage"]["costUsd"])


@pytest.mark.parametrize("point", ["before-commit", "after-commit"])
def test_a_crash_around_the_steps_commit_charges_the_step_once(stack: Stack, point: str):
    real = stack.services.store
    stack.use_store(CrashingStore(real, point=point, step="generate-seeds"))
    created = stack.create_brainstorm()
    [message] = stack.pull()
    with pytest.raises(SimulatedCrash):
        stack.push(message.data, dict(message.attributes))
    stack.use_store(real)
    stack.services.db.document(f"runs/{created['runId']}").update({"leaseOwner": None})

    stack.push(message.data, dict(message.attributes))

    assert stack.run_view(created["runId"])["status"] == "COMPLETED"
    assert_charged_once(stack, created["runId"])
    # A process that dies before the commit never recorded its call (the
    # provider may still bill it; nothing here can know): one charge either way.
    assert stack.run_doc(created["runId"])["usage"] == calls(1)
    assert len(stack.llm.requests) == (2 if point == "before-commit" else 1)


def test_duplicate_deliveries_charge_once(stack: Stack):
    stack.llm.delay = 0.5
    created = stack.create_brainstorm()
    [message] = stack.pull()

    threads = [
        threading.Thread(target=stack.push, args=(message.data, dict(message.attributes)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    stack.push(message.data, dict(message.attributes))  # a late redelivery, after the end

    assert stack.run_doc(created["runId"])["usage"] == calls(1)
    assert usage(stack)["totals"] == {"runs": 1, **calls(1), **by_model(1)}
