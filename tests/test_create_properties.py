"""Property: no body, id or header makes a create route answer 5xx, non-JSON, or write for nothing.

Hypothesis sends at least 1000 generated requests to each create route of
the real stack (the api through functions-framework, Firestore and Pub/Sub
emulators): bodies from near-valid to hostile (wrong types, unknown keys,
deep nesting, invalid UTF-8, arbitrary JSON), path ids Firestore would
refuse, and odd `Idempotency-Key`, `Content-Type` and `Authorization`
headers. Every answer is a 202 or a 4xx in the error shape, and the
documents in the emulator afterwards are exactly those of the accepted
requests: a rejected request wrote nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtools.samples import WIZARD_ANSWERS
from shared.http.responses import MAX_BODY_BYTES
from tests.helpers.auth_support import bearer, claims, mint
from tests.helpers.stack import Stack, create_project

EXAMPLES = 1000
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    # One stack serves every example on purpose: documents accumulate and are
    # counted against the accepted answers at the end.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
ANSWERS = {202, 400, 401, 404, 409, 413, 422}


# -- strategies ----------------------------------------------------------------------

# Header values a client can put on the wire (no CR/LF; latin-1, as WSGI carries them).
header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=300,
)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=30,
)


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def around_the_limit(offset: int) -> bytes:
    return b" " * (MAX_BODY_BYTES - 2 + offset) + b"{}"


def bodies(valid: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[bytes]:
    """A request body: valid, one field mistyped / added / dropped, or hostile bytes."""
    replaced = st.tuples(valid, st.text(max_size=20), json_values).map(
        lambda t: {**t[0], t[1]: t[2]}
    )
    mistyped = valid.flatmap(
        lambda body: st.tuples(st.sampled_from(sorted(body) or [""]), json_values).map(
            lambda t: {**body, t[0]: t[1]}
        )
    )
    dropped = valid.flatmap(
        lambda body: st.sampled_from(sorted(body) or [""]).map(
            lambda name: {k: v for k, v in body.items() if k != name}
        )
    )
    objects = st.one_of(valid, valid, replaced, mistyped, mistyped, dropped)
    return st.one_of(
        objects.map(lambda body: json.dumps(body).encode()),
        objects.map(lambda body: json.dumps(body).encode()),
        objects.map(lambda body: json.dumps(body).encode()),
        json_values.map(lambda value: json.dumps(value).encode()),
        st.binary(max_size=200),
        st.text(max_size=200).map(str.encode),
        st.integers(min_value=30, max_value=3000).map(nested),
        st.integers(min_value=-50, max_value=50).map(
            lambda n: b" " * (MAX_BODY_BYTES - 2 + n) + b"{}"
        ),
        st.just(b""),
    )


@dataclass(frozen=True)
class Call:
    body: bytes
    headers: dict[str, str]


def calls(valid: st.SearchStrategy[dict[str, Any]], token: str) -> st.SearchStrategy[Call]:
    authorization = st.one_of(
        st.just(bearer(token)),
        st.just(bearer(token)),
        st.just(bearer(token)),
        header_text,
        header_text.map(bearer),
    )
    headers = st.fixed_dictionaries(
        {"Authorization": authorization},
        optional={
            "Idempotency-Key": st.one_of(st.sampled_from(["k-1", "k-2", " k-1 "]), header_text),
            "Content-Type": st.one_of(
                st.sampled_from(
                    ["application/json", "text/plain", "application/json; charset=latin-1"]
                ),
                header_text,
            ),
        },
    )
    return st.builds(Call, body=bodies(valid), headers=headers)


free_text = st.one_of(st.just(""), st.just("   "), st.text(max_size=300))
VALID_BRAINSTORM = st.fixed_dictionaries(
    {"prompt": st.text(min_size=10, max_size=1000).filter(lambda p: len(p.strip()) >= 10)},
    optional={
        "creativityTemp": st.floats(min_value=0, max_value=1),
        "seedCount": st.integers(min_value=5, max_value=15),
    },
)
OPTIONAL_TEXT = (
    "description",
    "specific_needs_description",
    "preferred_countries",
    "additional_notes",
)
VALID_WIZARD = st.fixed_dictionaries(
    {
        **{n: st.just(v) for n, v in WIZARD_ANSWERS.items() if n not in OPTIONAL_TEXT},
        "participant_count": st.integers(min_value=16, max_value=60),
        "duration_days": st.integers(min_value=5, max_value=21),
        "primary_languages": st.one_of(st.just(""), st.text(max_size=200)),
    },
    optional=dict.fromkeys(OPTIONAL_TEXT, free_text),
)

# Path ids: printable ASCII (what the route can carry, percent-encoded), with the
# reserved shapes Firestore refuses mixed in.
path_ids = st.one_of(
    st.text(
        alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E)
        | st.sampled_from("\n\t\x00é"),
        min_size=1,
        max_size=200,
    ),
    st.sampled_from([".", "..", "__x__", "__name__", "prj-missing", "x" * 1600]),
    st.from_regex(r"__[a-z0-9]{1,20}__", fullmatch=True),
)


# -- the run -----------------------------------------------------------------------------


@dataclass
class Tally:
    """Every answer, and the ids the accepted ones name (what the emulator may hold)."""

    statuses: dict[int, int] = field(default_factory=dict)
    sessions: set[str] = field(default_factory=set)
    runs: set[str] = field(default_factory=set)
    started: float = field(default_factory=time.monotonic)

    def check(self, response: Any) -> dict[str, Any] | None:
        status = response.status_code
        self.statuses[status] = self.statuses.get(status, 0) + 1
        assert status < 500, response.get_data(as_text=True)
        assert status in ANSWERS, (status, response.get_data(as_text=True))
        assert response.mimetype == "application/json", response.get_data(as_text=True)[:200]
        body = response.get_json()
        if status >= 400:
            error = body["error"]
            assert set(body) == {"error"}
            assert set(error) <= {"code", "message", "details"}
            assert isinstance(error["code"], str)
            assert isinstance(error["message"], str)
            assert error["code"]
            assert error["message"]
            assert isinstance(error.get("details", []), list)
            return None
        self.runs.add(body["runId"])
        return dict(body)

    def report(self, route: str) -> None:
        seconds = time.monotonic() - self.started
        total = sum(self.statuses.values())
        answers = sorted(self.statuses.items())
        print(f"\n{route}: {total} requests in {seconds:.1f} s, answers {answers}")


def _ids(stack: Stack, collection: str) -> set[str]:
    return {ref.id for ref in stack.services.db.collection(collection).list_documents()}


@pytest.fixture
def token(stack: Stack) -> str:
    return mint(stack.key, claims(sub="user-1", org_id="org-a"))


@pytest.fixture
def tally() -> Tally:
    return Tally()


def _post(stack: Stack, path: str, call: Call) -> Any:
    return stack.api.post(path, data=call.body, headers=call.headers)


def _exercise(strategy: st.SearchStrategy[Any], send: Callable[[Any], None]) -> None:
    """`send` each generated value; a failure is shrunk to its simplest request and reported."""
    given(strategy)(SETTINGS(send))()


def _check_session_create(
    stack: Stack, tally: Tally, path: str, requests: st.SearchStrategy[Call], collection: str
) -> None:
    """Every generated request to a session-creating route: 202 with its writes, or none."""

    def send(call: Call) -> None:
        body = tally.check(_post(stack, path, call))
        if body is not None:
            tally.sessions.add(body["sessionId"])

    _exercise(requests, send)

    tally.report(f"POST {path}")
    assert sum(tally.statuses.values()) >= EXAMPLES
    assert tally.statuses.get(202, 0) > 0, "no generated request was accepted"
    assert _ids(stack, collection) == tally.sessions
    assert _ids(stack, "runs") == tally.runs


def test_brainstorm_create_never_fails_or_writes_for_a_rejected_request(
    stack: Stack, token: str, tally: Tally
):
    requests = calls(VALID_BRAINSTORM, token)
    _check_session_create(stack, tally, "/v1/brainstorm-sessions", requests, "brainstormSessions")


def test_project_create_never_fails_or_writes_for_a_rejected_request(
    stack: Stack, token: str, tally: Tally
):
    requests = calls(VALID_WIZARD, token)
    _check_session_create(stack, tally, "/v1/project-sessions", requests, "projectSessions")


def test_programme_create_never_fails_or_writes_for_a_rejected_request(
    stack: Stack, token: str, tally: Tally
):
    project_id = create_project(stack)
    runs_before = _ids(stack, "runs")
    programme_calls = st.tuples(
        st.one_of(st.just(project_id), st.just(project_id), path_ids),
        calls(st.just({}), token),
    )
    programmes: set[str] = set()

    def send(args: tuple[str, Call]) -> None:
        project, call = args
        body = tally.check(_post(stack, f"/v1/projects/{quote(project, safe='')}/programme", call))
        if body is not None:
            programmes.add(body["programmeId"])

    _exercise(programme_calls, send)

    tally.report("POST /v1/projects/{projectId}/programme")
    assert sum(tally.statuses.values()) >= EXAMPLES
    assert tally.statuses.get(202, 0) > 0, "no generated request was accepted"
    assert _ids(stack, "programmes") == programmes
    assert _ids(stack, "runs") == runs_before | tally.runs
    assert _ids(stack, "projects") == {project_id}
