"""JSON in, JSON out: body parsing and the one error shape every route answers with."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypeVar

from flask import Request, Response
from pydantic import BaseModel, ValidationError

from shared.errors import ClientError, InvalidInput, MalformedRequest

M = TypeVar("M", bound=BaseModel)

MAX_BODY_BYTES = 64 * 1024


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


def error_response(error: ClientError) -> Response:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.details:
        body["details"] = error.details
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    return json_response({"error": body}, error.status, headers)


def parse_body(request: Request, model: type[M]) -> M:
    """Validate a JSON object body against a strict request model.

    Malformed JSON is 400; a well-formed body that breaks a rule is 422 with
    one detail per offending field, named as the client sent it.
    """
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY_BYTES:
        raise MalformedRequest(f"request body is larger than {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        raise MalformedRequest("request body must be a JSON object")
    try:
        decoded = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise MalformedRequest("request body is not valid JSON") from None
    if not isinstance(decoded, dict):
        raise MalformedRequest("request body must be a JSON object")
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
