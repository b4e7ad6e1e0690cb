"""infra/*.tf against the google provider's real schema (offline; see devtools/provider_schema.py).

The schema comes from the pinned cdktn-provider-google wheel (downloaded and
extracted once per machine). Each kind of mistake `terraform validate` would
catch is made in a copy of infra/ and must be reported.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from devtools.provider_schema import PROVIDER_VERSION, check, load_schema
from tests.helpers.infra_support import INFRA_DIR


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return load_schema()


@pytest.fixture
def broken_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "infra"
    shutil.copytree(INFRA_DIR, copy)
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}: update this test"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def assert_reported(schema: dict[str, Any], edited: Path, old: str, new: str, problem: str) -> None:
    """`edited` (a file of the broken copy) with `old` replaced by `new` must report `problem`."""
    edit(edited, old, new)
    problems = check(edited.parent, schema)
    assert any(problem in p for p in problems), problems


def test_the_schema_is_the_pinned_providers(schema: dict[str, Any]) -> None:
    assert schema["provider_version"] == PROVIDER_VERSION
    function = schema["resources"]["google_cloudfunctions2_function"]
    service = function["blocks"]["service_config"]
    assert service["attributes"]["uri"] == "computed"
    assert service["attributes"]["max_instance_request_concurrency"] == "optional"
    assert function["attributes"]["name"] == "required"
    assert "google_project" in schema["data_sources"]


def test_infra_matches_the_provider_schema(schema: dict[str, Any]) -> None:
    assert check(INFRA_DIR, schema) == []


def test_an_unknown_resource_type_fails(schema: dict[str, Any], broken_copy: Path) -> None:
    assert_reported(
        schema,
        broken_copy / "pubsub.tf",
        'resource "google_pubsub_topic" "events"',
        'resource "google_pubsub_topik" "events"',
        "unknown resource type 'google_pubsub_topik'",
    )


def test_an_unknown_attribute_fails(schema: dict[str, Any], broken_copy: Path) -> None:
    assert_reported(
        schema,
        broken_copy / "functions.tf",
        "max_instance_request_concurrency = var.worker",
        "max_instance_request_concurency = var.worker",
        "google_cloudfunctions2_function.worker.service_config: unknown attribute or block "
        "'max_instance_request_concurency'",
    )


def test_a_missing_required_attribute_fails(schema: dict[str, Any], broken_copy: Path) -> None:
    assert_reported(
        schema,
        broken_copy / "firestore.tf",
        "  location_id = var.firestore_location\n",
        "",
        "google_firestore_database.main: required attribute 'location_id' is missing",
    )


def test_a_reference_to_a_missing_attribute_fails(
    schema: dict[str, Any], broken_copy: Path
) -> None:
    assert_reported(
        schema,
        broken_copy / "functions.tf",
        "service_config[0].service",
        "service_config[0].services",
        "google_cloudfunctions2_function.api.service_config has no attribute 'services'",
    )


def test_setting_a_read_only_attribute_fails(schema: dict[str, Any], broken_copy: Path) -> None:
    assert_reported(
        schema,
        broken_copy / "functions.tf",
        "    available_cpu    = var.worker_cpu\n",
        '    available_cpu    = var.worker_cpu\n    uri              = "https://x"\n',
        "service_config: 'uri' is read-only",
    )


def test_a_dynamic_block_is_checked_like_a_block(schema: dict[str, Any], broken_copy: Path) -> None:
    assert_reported(
        schema,
        broken_copy / "firestore.tf",
        "field_path = fields.value.field_path",
        "field = fields.value.field_path",
        "google_firestore_index.composite.fields: unknown attribute or block 'field'",
    )
