"""How `make test` spreads the suite over pytest-xdist workers (`-n 3 --dist loadgroup`).

Tests go one at a time to whichever worker is free, so a file of long tests
(the hypothesis properties, the `make dev` stops) is spread rather than
queued on one worker. The tests of a module that use a module-scoped fixture
(a local stack of processes, a live api) stay together on one worker, in
their order, so that fixture starts once: the modules are found from the
fixtures their tests use, so no list is kept by hand.

xdist's own `loadgroup` cannot do this with pytest 9: it marks a group by
renaming the test's node id through an attribute pytest 9 no longer reads,
so it groups nothing (and the renamed ids would not run again on the
command line). Here each worker writes the modules it found at collection
into a folder the controller gave it, and the controller's scheduler, which
starts only once every worker has collected, reads them: a test of such a
module is scheduled with its module, any other test on its own.

Each worker is a pytest session of its own: it starts its own emulator pair
the first time one of its tests needs it, on free ports.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

_SHARED_SCOPES = frozenset({"module", "class", "package"})
_INPUT_KEY = "genjobs_module_groups"
_GROUPS_DIR = pytest.StashKey[Path]()


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _shares_a_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(
        definition.scope in _SHARED_SCOPES
        for definitions in info.name2fixturedefs.values()
        for definition in definitions
    )


def grouped_modules(items: list[pytest.Item]) -> set[str]:
    """The test modules whose tests share a fixture wider than a test."""
    return {_module(item.nodeid) for item in items if _shares_a_fixture(item)}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a worker: tell the controller which modules to keep together."""
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if not workerinput or _INPUT_KEY not in workerinput:
        return
    path = Path(workerinput[_INPUT_KEY]) / f"{workerinput['workerid']}.json"
    path.write_text(json.dumps(sorted(grouped_modules(items))), encoding="utf-8")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """On the controller, for each worker: where to write its groups."""
    config: pytest.Config = node.config
    if _GROUPS_DIR not in config.stash:
        folder = Path(tempfile.mkdtemp(prefix="xdist-groups-"))
        config.stash[_GROUPS_DIR] = folder
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    node.workerinput[_INPUT_KEY] = str(config.stash[_GROUPS_DIR])


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleGroupScheduling(LoadScopeScheduling):  # type: ignore[misc]
        """Each test its own unit of work, except the modules the workers grouped."""

        _grouped: set[str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self._grouped is None:
                folder = config.stash[_GROUPS_DIR]
                self._grouped = {
                    module
                    for written in folder.glob("*.json")
                    for module in json.loads(written.read_text(encoding="utf-8"))
                }
            module = _module(nodeid)
            return module if module in self._grouped else nodeid

    return ModuleGroupScheduling(config, log)
