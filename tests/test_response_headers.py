"""Every answer says how to handle it: nosniff always, no-store unless its route says otherwise.

The headers are declared once, in the route table (`Route.cache_control`,
`routing.answer_headers`), and added by the app layer to every answer,
errors included; functions-framework's own answers (404, 405, 413, 500) get
the same. Walked over every route of `ROUTES` on the emulators, with real
documents behind each path, as the frontend calls them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from devtools.samples import WIZARD_ANSWERS
from shared.http.app import ROUTES
from shared.http.responses import MAX_BODY_BYTES
from shared.http.routing import Route
from tests.helpers.stack import Stack

BRAINSTORM = {"prompt": "A youth exchange about climate and art", "seedCount": 5}


def _ids(stack: Stack) -> dict[str, str]:
    """A real document behind every path parameter the route table uses."""
    brainstorm = stack.create_brainstorm()
    project_session = stack.post("/v1/project-sessions", WIZARD_ANSWERS).get_json()
    stack.deliver_all()
    project_id = stack.get(f"/v1/project-sessions/{project_session['sessionId']}").get_json()[
        "projectId"
    ]
    programme = stack.post(f"/v1/projects/{project_id}/programme", {}).get_json()
    operation = stack.post("/v1/runs/bulk-cancel", {"runIds": [programme["runId"]]}).get_json()
    stack.deliver_all()
    return {
        "/v1/brainstorm-sessions/{sessionId}": brainstorm["sessionId"],
        "/v1/project-sessions/{sessionId}": project_session["sessionId"],
        "runId": brainstorm["runId"],
        "projectId": project_id,
        "programmeId": programme["programmeId"],
        "operationId": operation["operationId"],
    }


def _path(route: Route, ids: dict[str, str]) -> str:
    path = route.path
    for name in route.path_params:
        template = "{" + name + "}"
        known = ids.get(path[: path.index(template) + len(template)]) or ids.get(name)
        path = path.replace(template, known or "missing-id")
    return path


def _request(stack: Stack, route: Route, ids: dict[str, str], token: bool = True) -> Any:
    path = _path(route, ids)
    headers = stack.token() if token else {}
    kwargs: dict[str, Any] = {"headers": headers}
    if route.method == "POST":
        bodies = {"/v1/brainstorm-sessions": BRAINSTORM, "/v1/project-sessions": WIZARD_ANSWERS}
        kwargs["json"] = bodies.get(route.path, {})
    if route.path == "/v1/usage":
        today = datetime.now(UTC).date().isoformat()
        kwargs["query_string"] = {"from": today, "to": today}
    response = stack.api.open(path, method=route.method, **kwargs)
    response.get_data()  # a stream is read to its end (the run is finished)
    return response


def _wrong_headers(route: Route, response: Any) -> dict[str, Any]:
    got = {
        "nosniff": response.headers.get("X-Content-Type-Options"),
        "cache": response.headers.get("Cache-Control"),
    }
    wanted = {"nosniff": "nosniff", "cache": route.cache_control}
    return {} if got == wanted else {"got": got, "wanted": wanted, "status": response.status_code}


def test_every_route_answers_with_nosniff_and_its_declared_cache_control(stack: Stack):
    ids = _ids(stack)
    wrong: dict[str, Any] = {}
    for route in ROUTES:
        response = _request(stack, route, ids)
        assert response.status_code < 500, (route.path, response.get_data(as_text=True))
        if mismatch := _wrong_headers(route, response):
            wrong[f"{route.method} {route.path}"] = mismatch

    assert wrong == {}


def test_every_authenticated_route_is_no_store_so_no_intermediary_keeps_its_answers():
    authenticated = [route for route in ROUTES if route.auth]

    assert authenticated
    assert [r.path for r in authenticated if "no-store" not in r.cache_control] == []


def test_an_authenticated_routes_refusals_carry_the_same_headers(stack: Stack):
    ids: dict[str, str] = {}  # unauthenticated: refused before any document is looked up
    wrong: dict[str, Any] = {}
    for route in [r for r in ROUTES if r.auth]:
        response = _request(stack, route, ids, token=False)
        assert response.status_code == 401, route.path
        if mismatch := _wrong_headers(route, response):
            wrong[f"{route.method} {route.path}"] = mismatch

    assert wrong == {}


def test_the_console_page_keeps_its_strict_content_security_policy(stack: Stack):
    response = stack.api.get("/console")

    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'sha256-" in policy
    assert "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/robots.txt", None, 404),
        ("GET", "/v1/nothing-here", None, 404),
        ("PATCH", "/healthz", None, 405),
        ("POST", "/v1/brainstorm-sessions", b"x" * (MAX_BODY_BYTES + 1), 413),
        ("OPTIONS", "/v1/functions", None, 204),
    ],
    ids=["framework-404", "404", "405", "413", "preflight"],
)
def test_answers_outside_any_route_are_nosniff_and_no_store(
    stack: Stack, method: str, path: str, body: bytes | None, status: int
):
    response = stack.api.open(path, method=method, data=body, headers=stack.token())

    assert response.status_code == status
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_a_crash_outside_our_handler_is_nosniff_and_no_store(stack: Stack):
    @stack.api.application.before_request
    def explode() -> None:
        raise RuntimeError("boom")

    response = stack.api.get("/healthz")

    assert response.status_code == 500
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
