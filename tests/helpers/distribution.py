"""How `make test` spreads the suite over pytest-xdist workers (`--dist loadgroup`).

Tests go one at a time to whichever worker is free, so a file of long tests
(the hypothesis properties, the `make dev` stops) is spread rather than
queued on one worker. A test that uses a module-scoped fixture (a local
stack of processes, a live api) stays with the rest of its module on one
worker, which then starts that fixture once: the test is put in the xdist
group named after its module here, from the fixtures it uses, so no list is
kept by hand.

Each worker is a pytest session of its own: it starts its own emulator pair
the first time one of its tests needs it, on free ports.
"""

from __future__ import annotations

import pytest

GROUP_MARK = "xdist_group"
_SHARED_SCOPES = frozenset({"module", "class", "package"})


def pytest_configure(config: pytest.Config) -> None:
    # Registered by xdist too; here as well so `-p no:xdist` runs with --strict-markers.
    config.addinivalue_line("markers", f"{GROUP_MARK}(name): run on the same xdist worker")


def _shares_a_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(
        definition.scope in _SHARED_SCOPES
        for definitions in info.name2fixturedefs.values()
        for definition in definitions
    )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Before xdist reads the groups: one group per module whose tests share a fixture."""
    for item in items:
        if item.get_closest_marker(GROUP_MARK) is None and _shares_a_fixture(item):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))  # type: ignore[attr-defined]
