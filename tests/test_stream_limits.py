"""Event streams cannot take the api down: capped per tenant and instance, freed when clients go.

The api is served as on Cloud Run (functions-framework's gunicorn) with few
threads, on the emulators; runs stay QUEUED (nobody delivers them), so every
stream stays open until its client leaves. Streams beyond a cap are a JSON
429 `rate_limited` with `Retry-After`; with the instance's cap of streams
open, `/healthz` and another tenant's create still answer; a client that
hangs up gives its slot back within seconds, long before any keep-alive.
One api process serves the module: each test ends when every stream it
opened has been closed by the server, so the next finds every slot free.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devtools.worker_process import WorkerProcess
from tests.helpers.api_processes import StackSettings
from tests.helpers.stack import Stack
from tests.helpers.streams_support import HeldStream, open_stream

THREADS = 6
PER_INSTANCE = 3
PER_TENANT = 2


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {
        "THREADS": str(THREADS),
        "EVENTS_MAX_STREAMS": str(PER_INSTANCE),
        "EVENTS_MAX_STREAMS_PER_TENANT": str(PER_TENANT),
        # No keep-alive write within the test: a gone client must be noticed without one.
        "EVENTS_KEEPALIVE_SECONDS": "120",
    }


@pytest.fixture
def stack_settings(module_stack_settings: StackSettings) -> StackSettings:
    """The module's tests share their settings: one api process serves them all."""
    return module_stack_settings.for_next_test()


@pytest.fixture
def held(api_process: WorkerProcess) -> Iterator[list[HeldStream]]:
    streams: list[HeldStream] = []
    yield streams
    for stream in streams:
        stream.close()
    # The next test shares the api: it must find every slot free, as on a new instance.
    admitted = [s.run_id for s in streams if s.status != 429]
    if not _wait_for(
        lambda: all(_closed_outcomes(api_process, run_id) for run_id in admitted), timeout=30
    ):
        api_process.kill()  # a slot is still taken: the next test gets a new process


def _queued_runs(stack: Stack, count: int, tenant: str = "org-a") -> list[str]:
    body = {"prompt": "A youth exchange about climate and art", "seedCount": 5}
    runs = []
    for _ in range(count):
        response = stack.post("/v1/brainstorm-sessions", body, tenant)
        assert response.status_code == 202, response.get_json()
        runs.append(response.get_json()["runId"])
    return runs


def _open(
    api: WorkerProcess, stack: Stack, runs: list[str], held: list[HeldStream], tenant: str
) -> list[HeldStream]:
    opened = [
        open_stream(api.port, run_id, stack.token(tenant)["Authorization"]) for run_id in runs
    ]
    held.extend(opened)
    return opened


def _statuses(streams: list[HeldStream]) -> list[int | None]:
    return [s.status for s in streams]


def _assert_rate_limited(stream: HeldStream) -> None:
    assert stream.status == 429
    assert stream.headers["content-type"] == "application/json"
    assert stream.error()["code"] == "rate_limited"
    assert int(stream.headers["retry-after"]) >= 1


def test_one_tenants_streams_beyond_its_cap_are_429_rate_limited(
    stack: Stack, api_process: WorkerProcess, held: list[HeldStream]
):
    runs = _queued_runs(stack, PER_TENANT + 2)

    streams = _open(api_process, stack, runs, held, "org-a")

    assert _statuses(streams) == [200] * PER_TENANT + [429, 429]
    for refused in streams[PER_TENANT:]:
        _assert_rate_limited(refused)
        assert "this tenant" in refused.error()["message"]


def test_streams_beyond_the_instances_cap_are_429_for_every_tenant(
    stack: Stack, api_process: WorkerProcess, held: list[HeldStream]
):
    a_runs = _queued_runs(stack, PER_TENANT, "org-a")
    b_runs = _queued_runs(stack, 2, "org-b")
    assert _statuses(_open(api_process, stack, a_runs, held, "org-a")) == [200] * PER_TENANT

    b_streams = _open(api_process, stack, b_runs, held, "org-b")

    assert _statuses(b_streams) == [200, 429]  # the instance holds PER_INSTANCE = 3
    _assert_rate_limited(b_streams[1])
    assert "api instance" in b_streams[1].error()["message"]


def test_a_flood_of_streams_leaves_healthz_and_another_tenants_create_answering(
    stack: Stack, api_process: WorkerProcess, held: list[HeldStream]
):
    """More streams than the api has threads, from one tenant: uncapped, they hold every thread."""
    runs = _queued_runs(stack, THREADS + 4)

    streams = _open(api_process, stack, runs, held, "org-a")
    healthz = httpx.get(f"{api_process.url}/healthz", timeout=10)
    created = httpx.post(
        f"{api_process.url}/v1/brainstorm-sessions",
        json={"prompt": "A youth exchange about climate and art", "seedCount": 5},
        headers=stack.token("org-b"),
        timeout=10,
    )

    assert _statuses(streams) == [200] * PER_TENANT + [429] * (len(runs) - PER_TENANT)
    assert healthz.status_code == 200
    assert created.status_code == 202, created.text


def _closed_outcomes(api: WorkerProcess, run_id: str) -> list[str]:
    return [
        str(e.get("outcome"))
        for e in api.log_entries()
        if e.get("message") == "run event stream closed" and e.get("runId") == run_id
    ]


def _wait_for(condition: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    return condition()


def test_a_client_that_hangs_up_is_noticed_without_a_keep_alive_and_frees_its_slot(
    stack: Stack, api_process: WorkerProcess, held: list[HeldStream]
):
    runs = _queued_runs(stack, PER_TENANT + 1)
    first = _open(api_process, stack, runs[:PER_TENANT], held, "org-a")
    assert _statuses(first) == [200] * PER_TENANT

    for stream in first:
        stream.close()
    # The keep-alive is 120 s away: only looking at the connection notices.
    outcomes = _wait_for(
        lambda: all(_closed_outcomes(api_process, run_id) for run_id in runs[:PER_TENANT]),
        timeout=15,
    )
    again = _open(api_process, stack, runs[PER_TENANT:], held, "org-a")

    assert outcomes
    assert [_closed_outcomes(api_process, r) for r in runs[:PER_TENANT]] == [["client gone"]] * 2
    assert _statuses(again) == [200]
