"""The suite's two halves: the tests that need Java (the emulators) and the rest (`make check`).

A test needs Java when it starts the Firestore and Pub/Sub emulators, which
it does through the `emulators` fixture (directly, or through `stack`,
`emptied_firestore`, `functions`, ...), or by starting a local stack of its
own (`make dev`, `make emulators`). The first kind is marked `emulators`
here, from the fixtures it uses, so no list of files has to be kept; the
second kind carries `pytest.mark.emulators` itself.

`pytest --no-java` (`make check`) deselects every marked test and makes Java
unavailable to the rest: the `emulators` fixture fails, and `java` on PATH is
a stub that exits non-zero with the fix. A test that needs Java but is not
marked therefore fails in `make check` rather than being left out of it, and
a test is never in neither half: `make check` runs everything not marked,
`make test` runs everything.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

MARK = "emulators"
# Session fixtures that start Java; every test depending on one is marked.
JAVA_FIXTURES = frozenset({"emulators"})
NO_JAVA_OPTION = "--no-java"
_STUB_MESSAGE = (
    "java was started by a test that `make check` (pytest --no-java) runs. A test that "
    "needs Java is marked: use the `emulators` fixture, or mark it "
    "@pytest.mark.emulators (tests/helpers/partition.py)."
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        NO_JAVA_OPTION,
        action="store_true",
        default=False,
        help="run only the tests that need no Java (`make check`); Java fails any unmarked test",
    )


def _no_java(config: pytest.Config) -> bool:
    return bool(config.getoption("no_java"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARK}: needs Java (the Firestore and Pub/Sub emulators); set from the fixtures a "
        "test uses, or by hand on a test that starts a local stack itself",
    )
    if _no_java(config):
        stub_dir = Path(tempfile.mkdtemp(prefix="no-java-"))
        stub = stub_dir / "java"
        stub.write_text(f"#!/bin/sh\necho '{_STUB_MESSAGE}' >&2\nexit 97\n")
        stub.chmod(stub.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        os.environ["PATH"] = f"{stub_dir}{os.pathsep}{os.environ.get('PATH', '')}"
        # The Pub/Sub emulator's launcher prefers $JAVA_HOME/bin/java to PATH.
        os.environ.pop("JAVA_HOME", None)
        config.add_cleanup(lambda: shutil.rmtree(stub_dir, ignore_errors=True))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark by fixture use (before `-m` selects), then drop the marked ones under --no-java."""
    for item in items:
        if JAVA_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(MARK)
    if not _no_java(config):
        return
    kept = [item for item in items if item.get_closest_marker(MARK) is None]
    deselected = [item for item in items if item.get_closest_marker(MARK) is not None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.hookimpl(tryfirst=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[object], request: pytest.FixtureRequest
) -> None:
    """Under --no-java, a test reaching a Java fixture unmarked (getfixturevalue) fails."""
    if fixturedef.argname in JAVA_FIXTURES and _no_java(request.config):
        pytest.fail(
            f"{request.node.nodeid} starts the emulators (fixture {fixturedef.argname!r}) "
            f"but is not marked {MARK!r}: mark it (pytest.param(..., "
            f"marks=pytest.mark.{MARK}) for a parameter that uses it)",
            pytrace=False,
        )
