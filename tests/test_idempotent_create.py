"""`Idempotency-Key` makes a retried create return the first session instead of a second one."""

from __future__ import annotations

from tests.helpers.stack import Stack

BODY = {"prompt": "A youth exchange about climate and art", "seedCount": 5}


def test_the_same_key_twice_returns_the_same_session_and_run(stack: Stack):
    first = stack.post("/v1/brainstorm-sessions", BODY, **{"Idempotency-Key": "k-1"})
    second = stack.post("/v1/brainstorm-sessions", BODY, **{"Idempotency-Key": "k-1"})

    assert first.status_code == second.status_code == 202
    assert first.get_json()["sessionId"] == second.get_json()["sessionId"]
    assert first.get_json()["runId"] == second.get_json()["runId"]
    assert len(stack.services.db.collection("brainstormSessions").get()) == 1
    assert len(stack.services.db.collection("runs").get()) == 1
    assert len(stack.pull()) == 1


def test_the_same_key_in_another_tenant_is_another_session(stack: Stack):
    ours = stack.post("/v1/brainstorm-sessions", BODY, tenant="org-a", **{"Idempotency-Key": "k"})
    theirs = stack.post("/v1/brainstorm-sessions", BODY, tenant="org-b", **{"Idempotency-Key": "k"})

    assert ours.get_json()["sessionId"] != theirs.get_json()["sessionId"]
    assert len(stack.services.db.collection("brainstormSessions").get()) == 2


def test_reusing_a_key_with_a_different_body_is_409(stack: Stack):
    stack.post("/v1/brainstorm-sessions", BODY, **{"Idempotency-Key": "k-2"})
    other = stack.post(
        "/v1/brainstorm-sessions", {**BODY, "seedCount": 6}, **{"Idempotency-Key": "k-2"}
    )

    assert other.status_code == 409
    assert other.get_json()["error"]["code"] == "conflict"
    assert len(stack.services.db.collection("brainstormSessions").get()) == 1


def test_without_a_key_each_create_is_a_new_session(stack: Stack):
    stack.post("/v1/brainstorm-sessions", BODY)
    stack.post("/v1/brainstorm-sessions", BODY)

    assert len(stack.services.db.collection("brainstormSessions").get()) == 2
