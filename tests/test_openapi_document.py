"""`GET /openapi.json`: valid OpenAPI 3.1, derived from the route table, needing no token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, get_args

import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel

from shared.http.app import ROUTES
from tests.helpers.stack import Stack

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def document(stack: Stack) -> dict[str, Any]:
    response = stack.api.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    return body


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]):
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema


def test_it_describes_exactly_the_routes_the_api_serves(document: dict[str, Any]):
    assert set(_operations(document)) == {(r.method, r.path) for r in ROUTES}


def test_every_v1_operation_needs_the_bearer_token_and_documents_401(document: dict[str, Any]):
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": document["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    for (_, path), operation in _operations(document).items():
        if path.startswith("/v1/"):
            assert operation["security"] == [{"bearerAuth": []}], path
            assert "401" in operation["responses"], path
        else:
            assert operation["security"] == [], path


def test_every_4xx_answer_has_the_error_shape(document: dict[str, Any]):
    error = _resolve(document, {"$ref": "#/components/schemas/ErrorBody"})
    assert error["required"] == ["error"]
    info = _resolve(document, error["properties"]["error"])
    assert set(info["required"]) == {"code", "message"}
    assert "details" in info["properties"]
    for key, operation in _operations(document).items():
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (key, status)


def test_creates_take_an_idempotency_key_header(document: dict[str, Any]):
    header = document["components"]["parameters"]["IdempotencyKey"]
    assert (header["name"], header["in"]) == ("Idempotency-Key", "header")
    for path in ("/v1/brainstorm-sessions", "/v1/project-sessions"):
        parameters = _operations(document)[("POST", path)]["parameters"]
        assert {"$ref": "#/components/parameters/IdempotencyKey"} in parameters
        assert "409" in _operations(document)[("POST", path)]["responses"]
        accepted = _operations(document)[("POST", path)]["responses"]["202"]
        assert "Location" in accepted["headers"]


def test_request_bodies_are_the_validating_models_wizard_keys_stay_snake_case(
    document: dict[str, Any],
):
    operations = _operations(document)

    def body(path: str) -> dict[str, Any]:
        content = operations[("POST", path)]["requestBody"]["content"]
        return _resolve(document, content["application/json"]["schema"])

    brainstorm = body("/v1/brainstorm-sessions")
    assert set(brainstorm["properties"]) == {"prompt", "creativityTemp", "seedCount"}
    assert brainstorm["additionalProperties"] is False
    assert brainstorm["properties"]["seedCount"]["minimum"] == 5
    wizard = body("/v1/project-sessions")
    assert {"age_group", "participant_count", "duration_days"} <= set(wizard["required"])
    assert "ageGroup" not in wizard["properties"]


def _annotations(annotation: Any) -> Iterator[Any]:
    yield annotation
    for arg in get_args(annotation):
        yield from _annotations(arg)


def _response_models() -> set[type[BaseModel]]:
    found: set[type[BaseModel]] = set()
    todo = [r.response for r in ROUTES if r.response is not None]
    while todo:
        model = todo.pop()
        if model in found:
            continue
        found.add(model)
        for field in model.model_fields.values():
            todo += [
                a
                for a in _annotations(field.annotation)
                if isinstance(a, type) and issubclass(a, BaseModel)
            ]
    return found


def test_a_response_field_without_a_value_is_left_out_so_none_is_required():
    """Replies are sent with exclude_none: a field that may be None must not be required."""
    for model in _response_models():
        for name, field in model.model_fields.items():
            nullable = type(None) in set(_annotations(field.annotation))
            assert not (nullable and field.is_required()), f"{model.__name__}.{name}"


def test_response_schemas_publish_no_nulls_and_no_defaults(document: dict[str, Any]):
    text = json.dumps(document["components"]["schemas"]["BrainstormSessionView"])
    assert "null" not in text
    assert "default" not in text
    session = document["components"]["schemas"]["BrainstormSessionView"]
    assert session["properties"]["aiModel"] == {"type": "string"}
    assert "aiModel" not in session["required"]
    run = _resolve(document, {"$ref": "#/components/schemas/RunView"})
    assert {"runId", "createdAt", "deadlineAt", "steps"} <= set(run["required"])


def test_path_parameters_are_declared_with_the_id_pattern(document: dict[str, Any]):
    operation = _operations(document)[("GET", "/v1/runs/{runId}")]
    (parameter,) = [p for p in operation["parameters"] if p.get("in") == "path"]
    assert parameter["name"] == "runId"
    assert parameter["required"] is True
    assert "404" in operation["responses"]


def test_query_parameters_come_from_the_query_model(document: dict[str, Any]):
    operation = _operations(document)[("GET", "/v1/runs")]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert {
        "status",
        "workflow",
        "createdAfter",
        "createdBefore",
        "source",
        "pageSize",
        "pageToken",
    } == set(parameters)
    assert (parameters["status"]["style"], parameters["status"]["explode"]) == ("form", False)
    assert parameters["pageSize"]["schema"]["maximum"] == 200
    assert parameters["workflow"]["allowEmptyValue"] is True  # `?workflow=` is "not given"


def test_a_path_parameter_that_cannot_be_an_id_is_404(stack: Stack):
    response = stack.get("/v1/runs/not.an.id")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
