"""The OpenAPI 3.1 document, derived from the route table and the models the code validates with.

Nothing here describes a route by hand: each operation comes from a `Route`,
each schema from the pydantic model that parses the request or builds the
reply, so `/openapi.json` changes exactly when the code does.

`make clients` (`devtools.typescript_client`) writes it to
clients/typescript/openapi.json and generates the TypeScript types from it;
this module only builds it, from the route table it is given (the app
imports this module, never the other way round).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from pydantic import BaseModel
from pydantic.alias_generators import to_camel
from pydantic.json_schema import (
    GenerateJsonSchema,
    JsonSchemaMode,
    JsonSchemaValue,
    models_json_schema,
)
from pydantic_core import core_schema

from shared.errors import ClientError, TooManyRequests
from shared.http.context import IDEMPOTENCY_KEY_PATTERN
from shared.http.routing import JSON, PATH_PARAM_PATTERN, Route
from shared.models.api import ErrorBody

TITLE = "genjobs API"
VERSION = "1"
DESCRIPTION = (
    "Durable AI generation jobs: start a session, poll it (or its run) until it is "
    "COMPLETED, FAILED or CANCELLED. JSON bodies use camelCase, except the idea wizard's "
    "answers, which keep the app's snake_case keys. Every error is "
    '`{"error": {"code", "message", "details"?}}`. A field that has no value is left out '
    "of a response, never sent as null."
)
REF = "#/components/schemas/{model}"


class _Schemas(GenerateJsonSchema):
    """Pydantic's JSON Schema, as a client reads it.

    Responses are sent with `exclude_none`: a field without a value is absent,
    never null, and no default is filled in by anyone. So in responses
    (serialization mode) a nullable field is published as its value's type,
    without a `default`. Field titles (pydantic's "Sessionid") are dropped.
    """

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        if self.mode == "serialization":
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        if self.mode == "serialization":
            return self.generate_inner(schema["schema"])
        return super().nullable_schema(schema)


Refs = dict[tuple[type[BaseModel], JsonSchemaMode], Any]


def _schemas(routes: Sequence[Route]) -> tuple[Refs, dict[str, dict[str, Any]]]:
    """Every model's schema under components, and the `$ref` (or inline schema) of each."""
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization")]
    for route in routes:
        if route.body is not None:
            wanted.append((route.body, "validation"))
        if route.query is not None:
            wanted.append((route.query, "validation"))
        if route.response is not None:
            wanted.append((route.response, "serialization"))
        wanted += [(model, "serialization") for model in route.events]
    keyed, top = models_json_schema(
        list(dict.fromkeys(wanted)),
        ref_template=REF,
        union_format="primitive_type_array",
        schema_generator=_Schemas,
    )
    return cast(Refs, keyed), top.get("$defs", {})


def _query_parameters(route: Route, defs: dict[str, Any]) -> list[dict[str, Any]]:
    assert route.query is not None
    schema = defs[route.query.__name__]
    required = set(schema.get("required", []))
    lists = set(route.list_params)
    parameters = []
    for name, prop in schema["properties"].items():
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if name in lists:
            parameter |= {"style": "form", "explode": False}
        if name not in required:
            parameter["allowEmptyValue"] = True  # `?workflow=` means "not given" (a form's blank)
        parameters.append(parameter)
    return parameters


def _parameters(route: Route, defs: dict[str, Any]) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": PATH_PARAM_PATTERN},
        }
        for name in route.path_params
    ]
    if route.query is not None:
        parameters += _query_parameters(route, defs)
    if route.idempotency_key:
        parameters.append({"$ref": "#/components/parameters/IdempotencyKey"})
    return parameters


def _error_description(errors: list[type[ClientError]]) -> str:
    return "; ".join(f"`{e.code}`" for e in errors)


def _responses(route: Route, refs: Refs) -> dict[str, Any]:
    if route.response is None:
        ok: dict[str, Any] = {"description": route.summary, "content": {route.media_type: {}}}
        if route.media_type == JSON:
            ok["content"][JSON] = {"schema": {"type": "object"}}
    else:
        schema = refs[(route.response, "serialization")]
        ok = {"description": route.summary, "content": {JSON: {"schema": schema}}}
    if route.headers:
        ok["headers"] = {name: {"schema": {"type": "string"}} for name in route.headers}
    responses: dict[str, Any] = {str(route.status): ok}
    error = {"schema": {"$ref": REF.format(model=ErrorBody.__name__)}}
    for status, errors in route.answers().items():
        responses[str(status)] = {
            "description": _error_description(errors),
            "content": {JSON: error},
        }
        if status == TooManyRequests.status:
            responses[str(status)]["headers"] = {
                "Retry-After": {
                    "description": "seconds to wait before trying again",
                    "schema": {"type": "integer", "minimum": 1},
                }
            }
    if route.auth:
        responses["503"] = {
            "description": "`auth_unavailable`: the token keys cannot be fetched now (Retry-After)",
            "content": {JSON: error},
        }
    return responses


def _operation(route: Route, refs: Refs, defs: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": to_camel(route.operation_id.replace(".", "_")),
        "summary": route.summary,
        "tags": [route.tag],
        "security": [{"bearerAuth": []}] if route.auth else [],
    }
    parameters = _parameters(route, defs)
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = {
            "required": not route.body_optional,
            "content": {JSON: {"schema": refs[(route.body, "validation")]}},
        }
    operation["responses"] = _responses(route, refs)
    return operation


def build(routes: Sequence[Route]) -> dict[str, Any]:
    refs, defs = _schemas(routes)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, refs, defs)
    for route in routes:
        if route.query is not None:
            defs.pop(route.query.__name__, None)  # spelled out as parameters instead
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "paths": paths,
        "components": {
            "schemas": dict(sorted(defs.items())),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "RS256 or ES256; `sub` is the user, the tenant claim the tenant",
                }
            },
            "parameters": {
                "IdempotencyKey": {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": (
                        "A retried create with the same key (per tenant) returns the first "
                        "session; a different body with the same key is 409."
                    ),
                    "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
                }
            },
        },
    }
