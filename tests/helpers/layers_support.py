"""The import contracts (`.importlinter`) run on a copy of the repository a test may edit.

`lint-imports` analyses the packages it finds from its working directory, so
a test copies the four root packages and the contracts to a temporary
directory, changes a module there, and reads what `lint-imports` reports.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from devtools import REPO_ROOT

ROOT_PACKAGES = ("shared", "devtools", "bench", "tests")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


@dataclass(frozen=True)
class LintReport:
    returncode: int
    output: str


def copy_of_repository(into: Path) -> Path:
    """The packages `.importlinter` analyses, and the contracts, under `into`."""
    ignored = shutil.ignore_patterns("__pycache__", "artifacts", "*.pyc")
    for package in ROOT_PACKAGES:
        shutil.copytree(REPO_ROOT / package, into / package, ignore=ignored)
    shutil.copy(REPO_ROOT / ".importlinter", into / ".importlinter")
    return into


def add_import(root: Path, module: str, statement: str) -> None:
    """Append `statement` to `module` (a dotted name) in the copy."""
    path = root.joinpath(*module.split(".")).with_suffix(".py")
    path.write_text(path.read_text() + f"\n{statement}  # noqa\n")


def lint_imports(root: Path) -> LintReport:
    done = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return LintReport(done.returncode, done.stdout + done.stderr)
