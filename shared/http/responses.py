"""JSON in, JSON out: body parsing and the one error shape every route answers with."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypeVar

from flask import Request, Response
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from shared.errors import (
    ClientError,
    InvalidInput,
    MalformedRequest,
    PayloadTooLarge,
    TooManyRequests,
)

M = TypeVar("M", bound=BaseModel)

MAX_BODY_BYTES = 64 * 1024
# Request bodies are flat objects with short lists; a deeper body is an attack
# on the parser (1000 levels of `[` raise RecursionError), not a request.
MAX_JSON_DEPTH = 32


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    if isinstance(body, BaseModel):
        text = body.model_dump_json(by_alias=True, exclude_none=True)
    else:
        text = json.dumps(body, default=_default)
    return Response(text, status=status, mimetype="application/json", headers=headers)


def error_json(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The one error shape: `{"error": {"code", "message", "details"?}}`."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return json_response({"error": body}, status, headers)


def error_response(error: ClientError) -> Response:
    headers: dict[str, str] = {}
    if error.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(error, TooManyRequests):
        headers["Retry-After"] = str(error.retry_after_seconds)
    return error_json(error.status, error.code, error.message, error.details, headers or None)


def read_body(request: Request) -> bytes:
    """The request body, read once and at most MAX_BODY_BYTES of it, before routing.

    A declared length over the limit is refused without reading a byte; a
    body without one (chunked) is read only up to the limit. Reading here
    also means functions-framework's own read after the response finds the
    body cached instead of reading it again.
    """
    too_large = PayloadTooLarge(f"request body is larger than {MAX_BODY_BYTES} bytes")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise too_large
    # Werkzeug stops reading a chunked body at this limit (without an error
    # today; with RequestEntityTooLarge as documented): one byte more than we
    # accept tells a body at the limit from one past it.
    request.max_content_length = MAX_BODY_BYTES + 1
    try:
        body = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise too_large from None
    except Exception:  # the server's parser (bad chunk, cut-off body) raises many kinds
        raise MalformedRequest("request body could not be read") from None
    if len(body) > MAX_BODY_BYTES:
        raise too_large
    return body


def unread_body_response(error: PayloadTooLarge) -> Response:
    """A 413 that leaves the rest of the body unread.

    A streamed response is one functions-framework does not drain the body
    for (its drain would read past the limit); the server discards or closes.
    """
    body = error_response(error).get_data()
    return Response(
        iter([body]),
        status=error.status,
        mimetype="application/json",
        headers={"Content-Length": str(len(body))},
    )


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest, counted without recursion."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return deepest


def parse_body(request: Request, model: type[M], *, optional: bool = False) -> M:
    """Validate a JSON object body against a strict request model.

    Malformed JSON is 400; a well-formed body that breaks a rule is 422 with
    one detail per offending field, named as the client sent it. An
    `optional` body left out reads as `{}`.
    """
    raw = read_body(request)
    if not raw.strip():
        if optional:
            raw = b"{}"
        else:
            raise MalformedRequest("request body must be a JSON object")
    try:
        decoded = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise MalformedRequest("request body is not valid JSON") from None
    except RecursionError:
        raise MalformedRequest(f"request body nests deeper than {MAX_JSON_DEPTH} levels") from None
    if not isinstance(decoded, dict):
        raise MalformedRequest("request body must be a JSON object")
    if _depth(decoded) > MAX_JSON_DEPTH:
        raise MalformedRequest(f"request body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise invalid_input(exc) from None


def parse_query(request: Request, model: type[M], lists: tuple[str, ...] = ()) -> M:
    """Validate a request's query string against a model; 422 like a body.

    Each parameter may appear once; those named in `lists` hold
    comma-separated values. An empty parameter counts as absent.
    """
    values: dict[str, Any] = {}
    for name in request.args:
        given = request.args.getlist(name)
        if len(given) > 1:
            raise InvalidInput(
                f"{name}: given more than once", details=[{"field": name, "message": "repeated"}]
            )
        if not given[0]:
            continue
        values[name] = [v.strip() for v in given[0].split(",")] if name in lists else given[0]
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise invalid_input(exc) from None


def invalid_input(exc: ValidationError) -> InvalidInput:
    """One detail per offending field, named as the client sent it."""
    details = [
        {
            "field": ".".join(str(p) for p in err["loc"]) or "(body)",
            "message": err["msg"],
        }
        for err in exc.errors(include_url=False, include_input=False)
    ]
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:3])
    return InvalidInput(summary, details=details)
