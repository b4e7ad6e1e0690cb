"""GET /v1/runs: a tenant's runs, newest first, filtered, one cursor page at a time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared.engine import RunStatus
from tests.helpers.runs_support import T0, seed_run, seed_series
from tests.helpers.stack import Stack


def listing(stack: Stack, query: str = "", tenant: str = "org-a") -> dict[str, Any]:
    response = stack.get(f"/v1/runs{query}", tenant)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def walk(stack: Stack, query: str, page_size: int) -> list[list[str]]:
    """Every page's run ids, following nextPageToken to the end."""
    pages: list[list[str]] = []
    token = ""
    while True:
        suffix = f"&pageToken={token}" if token else ""
        body = listing(stack, f"?pageSize={page_size}{query}{suffix}")
        pages.append([r["runId"] for r in body["runs"]])
        token = body.get("nextPageToken", "")
        if not token:
            return pages


def test_lists_only_the_callers_runs_newest_first(stack: Stack):
    mine = seed_series(stack.services.store, 3)
    seed_run(stack.services.store, tenant="org-b", created_at=T0 + timedelta(hours=1))

    body = listing(stack)

    assert [r["runId"] for r in body["runs"]] == [r.run_id for r in reversed(mine)]
    assert "nextPageToken" not in body


def test_each_run_shows_its_summary(stack: Stack):
    run = seed_run(stack.services.store, status=RunStatus.FAILED)

    (item,) = listing(stack)["runs"]

    assert item == {
        "runId": run.run_id,
        "workflow": "brainstorm.generate-seeds",
        "status": "FAILED",
        "subject": run.subject,
        "createdAt": "2026-11-01T00:00:00Z",
        "finishedAt": "2026-11-01T00:01:00Z",
        "error": "generate-seeds: boom",
        "usage": {"promptTokens": 0, "completionTokens": 0, "totalTokens": 0, "costUsd": 0.0},
        "source": "http",
    }


def test_a_run_created_through_the_api_is_listed_queued(stack: Stack):
    created = stack.create_brainstorm()

    (item,) = listing(stack)["runs"]

    assert item["runId"] == created["runId"]
    assert item["status"] == "QUEUED"
    assert "finishedAt" not in item
    assert "error" not in item


def test_pages_cover_every_run_exactly_once(stack: Stack):
    runs = seed_series(stack.services.store, 7)

    pages = walk(stack, "", page_size=3)

    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == [r.run_id for r in reversed(runs)]


def test_runs_created_at_the_same_instant_are_neither_skipped_nor_repeated(stack: Stack):
    runs = [seed_run(stack.services.store, created_at=T0) for _ in range(5)]

    pages = walk(stack, "", page_size=2)

    listed = [i for p in pages for i in p]
    assert sorted(listed) == sorted(r.run_id for r in runs)
    assert len(listed) == 5


def test_a_run_created_while_paging_does_not_shift_later_pages(stack: Stack):
    runs = seed_series(stack.services.store, 4)
    first = listing(stack, "?pageSize=2")

    seed_run(stack.services.store, created_at=T0 + timedelta(days=1))
    second = listing(stack, f"?pageSize=2&pageToken={first['nextPageToken']}")

    assert [r["runId"] for r in second["runs"]] == [runs[1].run_id, runs[0].run_id]


def test_filters_by_status(stack: Stack):
    store = stack.services.store
    failed = seed_run(store, status=RunStatus.FAILED)
    cancelled = seed_run(store, status=RunStatus.CANCELLED, created_at=T0 + timedelta(minutes=1))
    seed_run(store, status=RunStatus.COMPLETED, created_at=T0 + timedelta(minutes=2))

    only_failed = listing(stack, "?status=FAILED")["runs"]
    either = listing(stack, "?status=FAILED,CANCELLED")["runs"]

    assert [r["runId"] for r in only_failed] == [failed.run_id]
    assert [r["runId"] for r in either] == [cancelled.run_id, failed.run_id]


def test_filters_by_workflow_and_status_together(stack: Stack):
    store = stack.services.store
    wanted = seed_run(store, workflow="project.generate-from-idea")
    seed_run(store, workflow="project.generate-from-idea", status=RunStatus.COMPLETED)
    seed_run(store, workflow="brainstorm.generate-seeds")

    runs = listing(stack, "?workflow=project.generate-from-idea&status=FAILED")["runs"]

    assert [r["runId"] for r in runs] == [wanted.run_id]


def test_filters_by_creation_window_after_inclusive_before_exclusive(stack: Stack):
    runs = seed_series(stack.services.store, 5)
    after = (T0 + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    before = (T0 + timedelta(minutes=3)).isoformat().replace("+00:00", "Z")

    body = listing(stack, f"?createdAfter={after}&createdBefore={before}")

    assert [r["runId"] for r in body["runs"]] == [runs[2].run_id, runs[1].run_id]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?status=BROKEN", "status.0"),
        ("?workflow=no.such-workflow", "workflow"),
        ("?pageSize=0", "pageSize"),
        ("?pageSize=201", "pageSize"),
        ("?pageSize=ten", "pageSize"),
        ("?createdAfter=yesterday", "createdAfter"),
        ("?createdAfter=2026-11-01T00:00:00", "createdAfter"),
        ("?createdAfter=2026-11-02T00:00:00Z&createdBefore=2026-11-01T00:00:00Z", "(body)"),
        ("?colour=red", "colour"),
        ("?status=FAILED&status=CANCELLED", "status"),
    ],
)
def test_a_bad_filter_is_422_naming_the_field(stack: Stack, query: str, field: str):
    response = stack.get(f"/v1/runs{query}")

    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "invalid_input"
    assert field in [d["field"] for d in error["details"]]


def test_a_forged_page_token_is_400(stack: Stack):
    seed_series(stack.services.store, 3)
    genuine = listing(stack, "?pageSize=1")["nextPageToken"]
    tampered = genuine[:-2] + ("AA" if genuine[-2:] != "AA" else "BB")

    for token in ["not-a-token", tampered, "eyJmb28iOiAiYmFyIn0"]:
        response = stack.get(f"/v1/runs?pageSize=1&pageToken={token}")
        assert response.status_code == 400, token
        assert response.get_json()["error"]["code"] == "malformed_request"


def test_a_page_token_is_bound_to_its_search_and_tenant(stack: Stack):
    seed_series(stack.services.store, 3)
    token = listing(stack, "?pageSize=1")["nextPageToken"]

    other_search = stack.get(f"/v1/runs?pageSize=1&status=FAILED&pageToken={token}")
    other_tenant = stack.get(f"/v1/runs?pageSize=1&pageToken={token}", "org-b")

    assert other_search.status_code == 400
    assert other_tenant.status_code == 400


def test_listing_needs_a_token(stack: Stack):
    response = stack.api.get("/v1/runs")

    assert response.status_code == 401
