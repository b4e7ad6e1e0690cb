"""The route table is the one declaration of the API: what it declares is what dispatch enforces."""

from __future__ import annotations

import pytest

from shared.http.app import _reply
from shared.http.context import RequestContext
from shared.http.routing import Reply, Route
from shared.models.api import Health, RunCancelled
from tests.helpers.stack import Stack


def _cancel(ctx: RequestContext, run_id: str) -> RunCancelled:
    return RunCancelled(run_id=run_id, status="CANCELLED")


def test_a_handler_must_take_every_path_parameter_of_its_route():
    with pytest.raises(TypeError, match="session_id"):
        Route("GET", "/v1/things/{sessionId}", _cancel, "a thing", RunCancelled)


def test_a_reply_is_sent_with_the_declared_status_and_headers():
    route = Route(
        "POST",
        "/v1/runs/{runId}/cancel",
        _cancel,
        "cancel",
        RunCancelled,
        status=202,
        headers=("Location",),
    )
    body = RunCancelled(run_id="r1", status="CANCELLED")

    response = _reply(route, Reply(body, {"Location": "/v1/runs/r1"}))

    assert response.status_code == 202
    assert response.headers["Location"] == "/v1/runs/r1"
    assert response.get_json() == {"runId": "r1", "status": "CANCELLED"}


def test_a_handler_answering_another_model_than_declared_is_a_bug_not_a_reply():
    route = Route("POST", "/v1/runs/{runId}/cancel", _cancel, "cancel", RunCancelled, status=202)

    with pytest.raises(TypeError, match="returned Health"):
        _reply(route, Health(status="ok"))


def test_a_header_the_route_does_not_declare_is_a_bug_not_a_reply():
    route = Route("POST", "/v1/runs/{runId}/cancel", _cancel, "cancel", RunCancelled, status=202)
    body = RunCancelled(run_id="r1", status="CANCELLED")

    with pytest.raises(TypeError, match="undeclared headers"):
        _reply(route, Reply(body, {"Location": "/v1/runs/r1"}))


def test_a_method_a_path_does_not_take_is_405_naming_the_allowed_ones(stack: Stack):
    response = stack.api.delete("/v1/runs/abc", headers=stack.token())

    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
