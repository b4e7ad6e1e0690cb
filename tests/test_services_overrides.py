"""Tests and benchmarks swap a part of the services by passing it, and the rest follows."""

from __future__ import annotations

import pytest

from shared.config import Settings
from shared.engine.testing import InMemoryRunStore, ListPublisher
from shared.services import Services


class NoIndex:
    pass


def test_an_overridden_store_is_the_one_the_engine_is_built_on():
    services = Services(Settings())
    store = InMemoryRunStore()

    services.override(store=store, run_index=NoIndex(), publisher=ListPublisher())

    built: object = services.store
    assert built is store
    assert services.engine.store is store


def test_a_later_override_keeps_the_earlier_ones_and_rebuilds_what_depends_on_them():
    services = Services(Settings())
    first, second = InMemoryRunStore(), InMemoryRunStore()
    services.override(store=first, run_index=NoIndex(), publisher=ListPublisher())
    engine = services.engine

    services.override(store=second)

    assert services.engine is not engine
    assert services.engine.store is second
    assert isinstance(services.run_index, NoIndex)


def test_overriding_a_part_that_does_not_exist_is_refused():
    with pytest.raises(AttributeError, match="no part"):
        Services(Settings()).override(stor=InMemoryRunStore())
