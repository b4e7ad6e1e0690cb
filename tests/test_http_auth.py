"""Every /v1 route needs a valid bearer token; another tenant's documents are 404."""

from __future__ import annotations

import time

import pytest

from tests.helpers.auth_support import AUDIENCE, bearer, claims, mint, rsa_key
from tests.helpers.stack import Stack

ROUTES = [
    ("POST", "/v1/brainstorm-sessions"),
    ("GET", "/v1/brainstorm-sessions/some-id"),
    ("GET", "/v1/runs/some-id"),
    ("POST", "/v1/runs/some-id/cancel"),
    ("GET", "/v1/functions"),
]


def _call(stack: Stack, method: str, path: str, headers: dict[str, str]):
    return stack.api.open(path, method=method, json={"prompt": "x" * 20}, headers=headers)


def _tokens(stack: Stack) -> dict[str, dict[str, str]]:
    exp = str(int(time.time()) + 300)  # RFC 7519 wants a number; this string only looks like one
    return {
        "missing": {},
        "not-bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
        "garbage": {"Authorization": "Bearer not.a.jwt"},
        "expired": {"Authorization": bearer(mint(stack.key, claims(ttl_seconds=-120)))},
        "other-key": {"Authorization": bearer(mint(rsa_key(stack.key.kid), claims()))},
        "wrong-audience": {"Authorization": bearer(mint(stack.key, claims(aud="someone-else")))},
        "no-tenant": {"Authorization": bearer(mint(stack.key, claims(org_id=None)))},
        "empty-tenant": {"Authorization": bearer(mint(stack.key, claims(org_id="")))},
        "exp-as-string": {"Authorization": bearer(mint(stack.key, {**claims(), "exp": exp}))},
    }


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize(
    "token",
    [
        "missing",
        "not-bearer",
        "garbage",
        "expired",
        "other-key",
        "wrong-audience",
        "no-tenant",
        "empty-tenant",
        "exp-as-string",
    ],
)
def test_a_request_without_a_valid_token_is_401_json(
    stack: Stack, method: str, path: str, token: str
):
    response = _call(stack, method, path, _tokens(stack)[token])

    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert stack.services.db.collection("brainstormSessions").get() == []


def test_audience_in_a_list_is_accepted(stack: Stack):
    token = bearer(mint(stack.key, claims(aud=[AUDIENCE, "other"])))
    assert stack.api.get("/v1/functions", headers={"Authorization": token}).status_code == 200


def test_healthz_needs_no_token(stack: Stack):
    response = stack.api.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_another_tenants_session_and_run_answer_404_like_missing_ones(stack: Stack):
    created = stack.create_brainstorm()
    stack.deliver_all()

    for path in (f"/v1/brainstorm-sessions/{created['sessionId']}", f"/v1/runs/{created['runId']}"):
        theirs = stack.get(path, tenant="org-b")
        missing = stack.get(path.rsplit("/", 1)[0] + "/does-not-exist", tenant="org-b")
        assert theirs.status_code == missing.status_code == 404
        assert theirs.get_json()["error"]["code"] == missing.get_json()["error"]["code"]
        assert stack.get(path, tenant="org-a").status_code == 200
    cancel = stack.post(f"/v1/runs/{created['runId']}/cancel", {}, tenant="org-b")
    assert cancel.status_code == 404
