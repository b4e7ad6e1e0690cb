"""The shape of a route: everything dispatch and the OpenAPI document need, in one place.

A route is declared once, in `shared.http.app.ROUTES`; the URL map, request
validation, the reply check and `/openapi.json` are all derived from that
declaration, so the document cannot describe a route the code does not serve.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Response
from pydantic import BaseModel
from pydantic.alias_generators import to_snake

from shared.errors import (
    ClientError,
    InvalidInput,
    MalformedRequest,
    NotFound,
    PayloadTooLarge,
    Unauthenticated,
)
from shared.models import paths

JSON = "application/json"
EVENT_STREAM = "text/event-stream"
# No cache, private or shared, may keep the answer (RFC 9111 5.2.2.5).
NO_STORE = "no-store"

# A path parameter is a document id (`paths.DOCUMENT_ID`, the one pattern
# dispatch checks); anything else cannot name a resource.
PATH_PARAM_PATTERN = f"^{paths.DOCUMENT_ID.pattern}$"
_PATH_PARAM = re.compile(r"\{([A-Za-z][A-Za-z0-9]*)\}")


@dataclass(frozen=True)
class Reply:
    """A handler's answer when it carries headers (a `Location`, say) besides the body."""

    body: BaseModel
    headers: Mapping[str, str] = field(default_factory=dict)


HandlerResult = BaseModel | Reply | Response
Handler = Callable[..., HandlerResult]


@dataclass(frozen=True)
class Route:
    """One operation of the API.

    `path` uses OpenAPI's `{name}` templates; each template is a path
    parameter, passed to the handler as its snake_case keyword. When `body`
    is set, dispatch validates the request body against it and passes the
    model as `body=`; `query` likewise validates the query string into
    `query=`. The handler answers with an instance of `response` (or a
    `Reply` around one, carrying only the declared `headers`), sent with
    `status`. `errors` are the client errors the handler itself can raise;
    those implied by the declaration (401 for `auth`, 400/422 for a body or
    query, 404 for a path parameter) are added by `answers()`. A route whose
    `media_type` is not JSON (a stream, a page) returns a flask `Response`
    itself. Every answer of the route, errors included, carries
    `X-Content-Type-Options: nosniff` and `Cache-Control: <cache_control>`
    (`answer_headers`): `no-store` unless the route says otherwise, so no
    intermediary keeps an authenticated answer.
    """

    method: str
    path: str
    handler: Handler
    summary: str
    response: type[BaseModel] | None
    status: int = 200
    auth: bool = True
    body: type[BaseModel] | None = None
    # The body may be left out (read as `{}`): options with defaults.
    body_optional: bool = False
    query: type[BaseModel] | None = None
    errors: tuple[type[ClientError], ...] = ()
    idempotency_key: bool = False
    headers: tuple[str, ...] = ()
    media_type: str = JSON
    tag: str = "api"
    cache_control: str = NO_STORE
    # An event stream's event data models: published under components (and so
    # in the TypeScript types) though no JSON answer names them.
    events: tuple[type[BaseModel], ...] = ()

    def __post_init__(self) -> None:
        accepted = inspect.signature(self.handler).parameters
        wanted = [to_snake(p) for p in self.path_params]
        wanted += [name for name, model in (("body", self.body), ("query", self.query)) if model]
        missing = [name for name in wanted if name not in accepted]
        if missing:
            raise TypeError(f"{self.operation_id}: the handler does not take {missing}")
        if self.streams and not self.auth:
            # Streams are admitted per tenant (StreamGate): a stream needs a caller.
            raise TypeError(f"{self.operation_id}: an event stream must require the token")

    @property
    def streams(self) -> bool:
        """An event stream: it holds its connection (and a server thread) until it ends."""
        return self.media_type == EVENT_STREAM

    @property
    def path_params(self) -> list[str]:
        return _PATH_PARAM.findall(self.path)

    @property
    def list_params(self) -> tuple[str, ...]:
        """Query parameters holding a list: sent once, comma-separated (OpenAPI form style)."""
        if self.query is None:
            return ()
        properties = self.query.model_json_schema()["properties"]
        return tuple(name for name, schema in properties.items() if _is_array(schema))

    @property
    def rule(self) -> str:
        """The werkzeug rule: `{runId}` becomes `<runId>`."""
        return _PATH_PARAM.sub(r"<\1>", self.path)

    @property
    def operation_id(self) -> str:
        return self.handler.__module__.rsplit(".", 1)[-1] + "." + self.handler.__name__

    def answers(self) -> dict[int, list[type[ClientError]]]:
        """Every client error status this route can answer, with the errors behind each."""
        implied: list[type[ClientError]] = []
        if self.auth:
            implied.append(Unauthenticated)
        if self.body is not None:
            implied += [MalformedRequest, InvalidInput]
        if self.query is not None or self.idempotency_key:
            implied.append(InvalidInput)
        if self.path_params:
            implied.append(NotFound)
        if self.method == "POST":
            # Every body is read (and bounded) before routing, even where none is expected.
            implied.append(PayloadTooLarge)
        by_status: dict[int, list[type[ClientError]]] = {}
        for error in (*implied, *self.errors):
            listed = by_status.setdefault(error.status, [])
            if error not in listed:
                listed.append(error)
        return dict(sorted(by_status.items()))


def answer_headers(route: Route | None) -> dict[str, str]:
    """The headers every answer carries: the route's caching rule, or `no-store` without a route.

    `nosniff` keeps a browser from reading a JSON answer (or an error quoting
    the request) as HTML or script.
    """
    return {
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": route.cache_control if route is not None else NO_STORE,
    }


def _is_array(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "array" or any(_is_array(s) for s in schema.get("anyOf", []))
