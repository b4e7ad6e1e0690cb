"""`make lint` checks the layering (`.importlinter`): an import against it fails the lint.

Each test injects one forbidden import into a copy of the repository and
runs `lint-imports` there, as `make lint` runs it here.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers.layers_support import add_import, copy_of_repository, lint_imports


def test_the_repository_keeps_every_import_contract(tmp_path: Path):
    report = lint_imports(copy_of_repository(tmp_path))

    assert report.returncode == 0, report.output
    assert "0 broken" in report.output


def test_an_upward_import_from_the_engine_breaks_the_layers_contract(tmp_path: Path):
    root = copy_of_repository(tmp_path)
    add_import(root, "shared.engine.sweep", "from shared.http import runs")

    report = lint_imports(root)

    assert report.returncode == 1
    assert "shared: each layer imports only the layers below it BROKEN" in report.output
    assert "shared.engine is not allowed to import shared.http" in report.output


def test_a_workflow_importing_an_adapter_breaks_the_wiring_contract(tmp_path: Path):
    root = copy_of_repository(tmp_path)
    add_import(root, "shared.workflows.brainstorm", "from shared.adapters import pubsub")

    report = lint_imports(root)

    assert report.returncode == 1
    assert "only the wiring (shared.services) builds adapters BROKEN" in report.output


def test_a_google_cloud_client_in_the_engine_breaks_the_cloud_clients_contract(tmp_path: Path):
    root = copy_of_repository(tmp_path)
    add_import(root, "shared.engine.store", "from google.cloud import firestore")

    report = lint_imports(root)

    assert report.returncode == 1
    assert "shared.engine.store -> google" in report.output


def test_a_test_importing_an_engine_module_breaks_the_front_door_contract(tmp_path: Path):
    root = copy_of_repository(tmp_path)
    add_import(root, "tests.test_engine_cancel", "from shared.engine.runner import Runner")

    report = lint_imports(root)

    assert report.returncode == 1
    assert "tests.test_engine_cancel -> shared.engine.runner" in report.output


def test_an_import_cycle_between_modules_breaks_the_acyclic_contract(tmp_path: Path):
    root = copy_of_repository(tmp_path)
    add_import(root, "shared.http.openapi", "from shared.http import app")

    report = lint_imports(root)

    assert report.returncode == 1
    assert "No cycles are allowed in shared.http" in report.output
