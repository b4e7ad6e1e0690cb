"""The deployable bundles (devtools/bundle.py): contents, determinism, and that
each unzipped bundle imports on its own, without the repository on the path."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from devtools import REPO_ROOT, bundle
from devtools.bundle import FIXED_DATE_TIME, FUNCTIONS, BundleError, build_all

# Importing `main` must not need Google credentials or a network: point the
# clients at closed local ports, as the emulators would be.
IMPORT_ENV = {
    "GOOGLE_CLOUD_PROJECT": "demo-bundle-test",
    "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9",
    "PUBSUB_EMULATOR_HOST": "127.0.0.1:9",
}

IMPORT_CHECK = """
import sys
from pathlib import Path

root = Path(sys.argv[1]).resolve()
entry_point = sys.argv[2]

import main
import shared

main_file = Path(main.__file__).resolve()
shared_file = Path(shared.__file__).resolve()
assert main_file == root / "main.py", f"imported main from {main_file}"
assert shared_file.is_relative_to(root), f"imported shared from {shared_file}"
assert callable(getattr(main, entry_point, None)), f"main.{entry_point} is not callable"
print("ok", main_file, shared_file)
"""


def make_repo(root: Path) -> Path:
    """A minimal repository with the layout the bundler reads."""
    files = {
        "functions/api/main.py": "def api(request):\n    return 'ok'\n",
        "functions/api/helpers.py": "X = 1\n",
        "functions/worker/main.py": "def worker(event):\n    return None\n",
        "shared/__init__.py": "",
        "shared/config.py": "A = 1\n",
        "shared/workflows/__init__.py": "",
        "shared/workflows/prompts/seeds.txt": "Write {n} seeds.\n",
        "shared/workflows/prompts/README.md": "# prompts\n",
        "shared/workflows/data.json": "{}\n",
        "shared/__pycache__/config.cpython-311.pyc": "junk",
        "shared/.hidden/x.py": "junk\n",
        "tests/test_x.py": "def test_x(): pass\n",
        "requirements.txt": (
            "# runtime deps\n\nfunctions-framework==3.10.2\n"
            "  # indented comment\npydantic==2.14.4\n"
        ),
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# --- the bundler on a synthetic repository -----------------------------------


def test_bundle_layout(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    built = build_all(tmp_path / "out", repo)
    assert set(built) == set(FUNCTIONS)
    with zipfile.ZipFile(built["api"]) as archive:
        names = archive.namelist()
        requirements = archive.read("requirements.txt").decode()
    assert names == sorted(names)
    assert names == [
        "helpers.py",
        "main.py",
        "requirements.txt",
        "shared/__init__.py",
        "shared/config.py",
        "shared/workflows/__init__.py",
        "shared/workflows/prompts/README.md",
        "shared/workflows/prompts/seeds.txt",
    ]
    assert requirements == "functions-framework==3.10.2\npydantic==2.14.4\n"
    with zipfile.ZipFile(built["worker"]) as archive:
        assert "main.py" in archive.namelist()
        assert "helpers.py" not in archive.namelist()


def test_bundle_entries_have_fixed_metadata(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    path = bundle.build_bundle("api", tmp_path / "out", repo)
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            assert info.date_time == FIXED_DATE_TIME, info.filename
            assert (info.external_attr >> 16) & 0o777 == 0o644, info.filename
            assert info.compress_type == zipfile.ZIP_DEFLATED


def test_bundle_is_byte_identical_across_builds_and_changes_with_sources(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    first = bundle.build_bundle("api", tmp_path / "a", repo).read_bytes()
    os.utime(repo / "shared" / "config.py", (1_000_000_000, 1_000_000_000))
    second = bundle.build_bundle("api", tmp_path / "b", repo).read_bytes()
    assert first == second
    (repo / "shared" / "config.py").write_text("A = 2\n")
    third = bundle.build_bundle("api", tmp_path / "c", repo).read_bytes()
    assert third != first


def test_missing_entry_point_is_an_error(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "functions" / "worker" / "main.py").unlink()
    with pytest.raises(BundleError, match=r"main\.py"):
        bundle.build_bundle("worker", tmp_path / "out", repo)


# --- the real bundles ---------------------------------------------------------


@pytest.fixture(scope="module")
def real_bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_all(tmp_path_factory.mktemp("dist"), REPO_ROOT)


def test_real_bundles_are_deterministic(real_bundles: dict[str, Path], tmp_path: Path) -> None:
    again = build_all(tmp_path, REPO_ROOT)
    for name, path in real_bundles.items():
        assert again[name].read_bytes() == path.read_bytes(), name


def test_real_bundles_hold_only_what_the_function_needs(real_bundles: dict[str, Path]) -> None:
    for name, path in real_bundles.items():
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            requirements = archive.read("requirements.txt").decode()
        assert {"main.py", "requirements.txt", "shared/__init__.py", "shared/config.py"} <= set(
            names
        ), name
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        foreign = ("tests/", "devtools/", "infra/", "functions/")
        assert not [n for n in names if n.startswith(foreign)]
        assert not [line for line in requirements.splitlines() if line.lstrip().startswith("#")]
        assert "functions-framework" in requirements


def test_the_api_bundle_carries_the_console_page(real_bundles: dict[str, Path]) -> None:
    with zipfile.ZipFile(real_bundles["api"]) as archive:
        names = set(archive.namelist())
    page = {f"shared/http/console/{n}" for n in ("index.html", "console.css", "console.js")}
    assert page <= names


@pytest.mark.parametrize("name", FUNCTIONS)
def test_unzipped_bundle_imports_without_the_repository(
    real_bundles: dict[str, Path], tmp_path: Path, name: str
) -> None:
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    with zipfile.ZipFile(real_bundles[name]) as archive:
        archive.extractall(unpacked)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "GOOGLE_"))}
    env.update(IMPORT_ENV, PYTHONPATH=str(unpacked), PYTHONDONTWRITEBYTECODE="1")
    # The venv's interpreter: its site-packages stand in for requirements.txt.
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_CHECK, str(unpacked), name],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("ok"), proc.stdout
