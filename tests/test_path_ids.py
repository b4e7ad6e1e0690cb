"""A path id that cannot name a document answers the JSON 404 of a missing one, without Firestore.

Firestore rejects or reserves many ids ("." and "..", `__x__`, control
characters, over 1500 bytes) with InvalidArgument instead of reading them as
missing; before ids were checked, each of these answered 500.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.stack import Stack

ID_ROUTES = [
    ("GET", "/v1/brainstorm-sessions/{}"),
    ("GET", "/v1/project-sessions/{}"),
    ("GET", "/v1/projects/{}"),
    ("POST", "/v1/projects/{}/programme"),
    ("GET", "/v1/programmes/{}"),
    ("GET", "/v1/runs/{}"),
    ("POST", "/v1/runs/{}/cancel"),
]

# As they appear in the URL (percent-encoded where a client would encode them).
BAD_IDS = [
    ".",
    "..",
    "%2E",
    "%2E%2E",
    "__x__",
    "__name__",
    "__0123456789abcdef__",
    "%0A",
    "abc%0A",
    "abc%0D%0Aset-cookie:x",
    "a%00b",
    "%09tab",
    "a%20b",
    "%C3%A9t%C3%A9",
    "_leading-underscore",
    "-leading-dash",
    "x" * 129,
    "x" * 1501,
]


class NoFirestore:
    """Stands in for the document reader and the run store: any use fails the request."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"Firestore was called ({name}) for an id that names nothing")


def _call(stack: Stack, method: str, path: str) -> Any:
    return stack.api.open(path, method=method, headers=stack.token())


@pytest.mark.parametrize(("method", "template"), ID_ROUTES)
@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_an_id_firestore_cannot_hold_is_404_like_a_missing_document(
    stack: Stack, method: str, template: str, bad_id: str
):
    missing = _call(stack, method, template.format("does-not-exist"))
    stack.services.override(documents=NoFirestore())
    stack.use_store(NoFirestore())

    response = _call(stack, method, template.format(bad_id))

    assert missing.status_code == 404
    assert response.status_code == 404, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == missing.get_json()["error"]["code"]
    assert response.get_json()["error"]["message"].lower().endswith("not found")


@pytest.mark.parametrize(("method", "template"), ID_ROUTES)
def test_a_bad_id_without_a_token_is_401_like_any_other_request(
    stack: Stack, method: str, template: str
):
    response = stack.api.open(template.format("__x__"), method=method)

    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthenticated"


def test_the_ids_the_api_mints_are_accepted(stack: Stack):
    created = stack.create_brainstorm()

    assert stack.get(f"/v1/brainstorm-sessions/{created['sessionId']}").status_code == 200
    assert stack.get(f"/v1/runs/{created['runId']}").status_code == 200
