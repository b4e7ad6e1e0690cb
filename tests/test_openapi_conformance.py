"""The live api keeps the promises of its own `/openapi.json` (schemathesis, over a real socket).

The api runs as functions-framework serves it in Cloud (its own process, on
the emulators, tokens checked against a JWKS of a key generated here). Every
answer must be documented: its status for that operation, its content type,
its body against the published schema; no 5xx. Undocumented answers are
defects of the spec or of the code. The walk through real objects has a
worker process fed by push subscriptions, so the sessions it creates really
run; the fuzzed cases do not need theirs to (the walk shows every state
through every GET), so the subscriptions are made only for the walk and
nothing the fuzzed cases created is run.

Run time is bounded by `EXAMPLES` generated cases per operation (and
schemathesis' coverage phase); CI on 2 cores takes well under a minute.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from devtools import REPO_ROOT
from devtools.emulators import Emulators, reset_firestore
from devtools.provision import provision
from devtools.push import LocalPush
from devtools.samples import WIZARD_ANSWERS
from devtools.worker_process import WorkerProcess
from shared.http.app import ROUTES
from shared.http.routing import Route
from tests.helpers.auth_support import (
    AUDIENCE,
    ISSUER,
    SigningKey,
    bearer,
    claims,
    mint,
    write_jwks,
)

PROJECT = "demo-genjobs-test"
EXAMPLES = 20
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}


class LiveApi:
    def __init__(self, url: str, key: SigningKey, env: dict[str, str], workdir: Path) -> None:
        self.url = url
        self.key = key
        self.env = env
        self.workdir = workdir

    def auth(self, tenant: str = "org-conformance") -> dict[str, str]:
        token = mint(self.key, claims(sub="user-1", org_id=tenant, ttl_seconds=3600))
        return {"Authorization": bearer(token)}


@pytest.fixture(scope="module")
def live_api(
    emulators: Emulators, signing_key: SigningKey, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveApi]:
    workdir = tmp_path_factory.mktemp("conformance")
    reset_firestore(emulators.firestore_host, PROJECT)
    suffix = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "EVENTS_TOPIC": f"events-{suffix}",
        "DEAD_LETTER_TOPIC": f"events-dlq-{suffix}",
        "AUTH_JWKS_FILE": str(write_jwks(workdir / "jwks.json", signing_key)),
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": AUDIENCE,
        "LOG_LEVEL": "WARNING",
    }
    for name in ("OPENAI_API_KEY", "OPENAI_API_KEY_SECRET"):
        env.pop(name, None)  # the offline model: these runs must complete, not be good
    # The topics only: a message published while a topic has no subscription is dropped.
    provision(PROJECT, env["EVENTS_TOPIC"], env["DEAD_LETTER_TOPIC"], subscriptions=False)
    api = WorkerProcess(workdir, env, name="conformance", target="api").start()
    try:
        yield LiveApi(api.url, signing_key, env, workdir)
    finally:
        api.stop()


@pytest.fixture(scope="module")
def running_worker(live_api: LiveApi) -> Iterator[WorkerProcess]:
    """A worker fed by the push subscriptions, made now: from here on, what is created runs."""
    env = live_api.env
    worker = WorkerProcess(live_api.workdir, env, name="conformance").start()
    try:
        routes = provision(PROJECT, env["EVENTS_TOPIC"], env["DEAD_LETTER_TOPIC"])
        with LocalPush(PROJECT, routes, worker.url):
            yield worker
    finally:
        worker.stop()


@pytest.fixture(scope="module")
def api_schema(live_api: LiveApi) -> Any:
    import schemathesis  # see _cases

    assert httpx.get(f"{live_api.url}/openapi.json", timeout=10).status_code == 200  # no token
    return schemathesis.openapi.from_url(f"{live_api.url}/openapi.json")


def _cases() -> list[tuple[Route, str]]:
    """Every operation with valid inputs; those that take any input also with invalid ones.

    The modes are schemathesis' `GenerationMode` values, and schemathesis is
    imported where a case runs: every xdist worker collects this module, and
    only the one that runs it needs the library (~0.3 s of CPU to import).
    """
    cases = []
    for route in ROUTES:
        cases.append((route, "positive"))
        if route.path_params or route.body or route.query or route.idempotency_key:
            cases.append((route, "negative"))
    return cases


# Rules JSON Schema cannot state (a time window's order or length, a registered
# workflow's name, the statuses a bulk action applies to) make some schema-valid
# requests 422: documented answers, but not "accepted" as that check wants.
BEYOND_THE_SCHEMA = {
    ("GET", "/v1/runs"),
    ("POST", "/v1/runs/bulk-cancel"),
    ("POST", "/v1/runs/bulk-resume"),
    ("GET", "/v1/usage"),
}


@pytest.mark.parametrize(
    ("route", "mode"),
    _cases(),
    ids=lambda v: f"{v.method} {v.path}" if isinstance(v, Route) else v,
)
def test_every_answer_of_every_operation_is_documented(
    api_schema: Any, live_api: LiveApi, route: Route, mode: str
):
    from schemathesis import GenerationMode  # see _cases
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    generation_mode = GenerationMode(mode)
    operation = api_schema[route.path][route.method]
    excluded: list[Any] = (
        [positive_data_acceptance] if (route.method, route.path) in BEYOND_THE_SCHEMA else []
    )

    @given(operation.as_strategy(generation_mode=generation_mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def each(case: Any) -> None:
        # A negative case may be one that drops the Authorization header: adding
        # our token back would make it valid and the api's 200 a false failure.
        # Such a case is sent as generated, and its answer must be the 401.
        dropped_auth = generation_mode is GenerationMode.NEGATIVE and not any(
            name.lower() == "authorization" for name in (case.headers or {})
        )
        headers = None if dropped_auth else live_api.auth()
        case.call_and_validate(base_url=live_api.url, headers=headers, excluded_checks=excluded)

    each()


def _call(api_schema: Any, live_api: LiveApi, method: str, path: str, **parts: Any) -> Any:
    case = api_schema[path][method].Case(**parts)
    response = case.call_and_validate(base_url=live_api.url, headers=live_api.auth())
    return response.json()


def _until_done(api_schema: Any, live_api: LiveApi, path: str, **params: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        body: dict[str, Any] = _call(api_schema, live_api, "GET", path, path_parameters=params)
        if body["status"] in TERMINAL:
            return body
        assert time.monotonic() < deadline, f"{path} {params} still {body['status']}"
        time.sleep(0.2)


def test_real_sessions_projects_programmes_and_runs_match_their_schemas(
    api_schema: Any, live_api: LiveApi, running_worker: WorkerProcess
):
    """Fuzzed ids are 404s: this walks real objects, in each state, through every GET."""
    started = _call(
        api_schema,
        live_api,
        "POST",
        "/v1/brainstorm-sessions",
        body={"prompt": "A youth exchange about climate and street art", "seedCount": 5},
    )
    session_path = "/v1/brainstorm-sessions/{sessionId}"
    running = _call(
        api_schema,
        live_api,
        "GET",
        session_path,
        path_parameters={"sessionId": started["sessionId"]},
    )
    assert running["sessionId"] == started["sessionId"]
    brainstorm = _until_done(api_schema, live_api, session_path, sessionId=started["sessionId"])
    assert brainstorm["status"] == "COMPLETED"
    assert len(brainstorm["seeds"]) == 5

    project_session = _call(
        api_schema, live_api, "POST", "/v1/project-sessions", body=WIZARD_ANSWERS
    )
    done = _until_done(
        api_schema,
        live_api,
        "/v1/project-sessions/{sessionId}",
        sessionId=project_session["sessionId"],
    )
    assert done["status"] == "COMPLETED", done
    project_id = done["projectId"]
    project = _call(
        api_schema,
        live_api,
        "GET",
        "/v1/projects/{projectId}",
        path_parameters={"projectId": project_id},
    )
    assert project["projectId"] == project_id

    programme = _call(
        api_schema,
        live_api,
        "POST",
        "/v1/projects/{projectId}/programme",
        path_parameters={"projectId": project_id},
    )
    finished = _until_done(
        api_schema, live_api, "/v1/programmes/{programmeId}", programmeId=programme["programmeId"]
    )
    assert finished["status"] == "COMPLETED", finished
    assert finished["days"]

    for run_id in (started["runId"], project_session["runId"], programme["runId"]):
        run = _call(
            api_schema, live_api, "GET", "/v1/runs/{runId}", path_parameters={"runId": run_id}
        )
        assert run["status"] == "COMPLETED"
    listing = _call(api_schema, live_api, "GET", "/v1/runs", query={"pageSize": 2})
    assert len(listing["runs"]) == 2
    assert "nextPageToken" in listing
    _call(api_schema, live_api, "GET", "/v1/functions")

    # A cancelled run, and cancelling it again (409, documented).
    cancellable = _call(
        api_schema,
        live_api,
        "POST",
        "/v1/brainstorm-sessions",
        body={"prompt": "Another youth exchange, about food waste", "seedCount": 5},
    )
    cancel = "/v1/runs/{runId}/cancel"
    for _ in range(2):
        _call(api_schema, live_api, "POST", cancel, path_parameters={"runId": cancellable["runId"]})
