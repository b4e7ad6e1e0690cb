"""Every query of the runs search, the results outbox and the usage report has its index.

The queries are the ones the Firestore adapters really build, read back from
the query objects, so a new filter without an index fails here, not in Cloud.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

from shared.adapters.firestore_runs import FirestoreRunIndex
from shared.adapters.firestore_usage import FirestoreUsage
from shared.engine import RunFilter, RunSource, RunStatus
from tests.helpers.infra_support import Infra, index_specs

WHEN = datetime(2026, 11, 1, tzinfo=UTC)

FILTERS = [
    RunFilter(
        statuses=statuses,
        workflow=workflow,
        created_after=WHEN if window else None,
        created_before=WHEN if window else None,
        source=source,
    )
    for statuses, workflow, window, source in itertools.product(
        [None, (RunStatus.FAILED,), (RunStatus.FAILED, RunStatus.CANCELLED)],
        [None, "brainstorm.generate-seeds"],
        [False, True],
        list[RunSource | None]([None, "trigger"]),
    )
]


CLIENT = firestore.Client(project="offline", credentials=AnonymousCredentials())


def needed_index(where: RunFilter) -> tuple[frozenset[str], tuple[str, str]]:
    """(equality fields, the ordered field) of the query the adapter builds for `where`."""
    return shape(FirestoreRunIndex(CLIENT).query("org-a", where))


def shape(query: Any) -> tuple[frozenset[str], tuple[str, str]]:
    equality = frozenset(
        f.field.field_path
        for f in query._field_filters
        if f.op in (f.Operator.EQUAL, f.Operator.IN)
    )
    first = query._orders[0]
    return equality, (first.field.field_path, first.direction.name)


def assert_indexed(collection: str, equality: frozenset[str], ordered: tuple[str, str]) -> None:
    served = [
        fields
        for name, fields in index_specs(Infra.load())
        if name == collection and fields[-1] == ordered and {f for f, _ in fields[:-1]} == equality
    ]
    assert served, f"no index on {collection} for equality {sorted(equality)} ordered by {ordered}"


@pytest.mark.parametrize("where", FILTERS)
def test_the_list_query_has_an_index(where: RunFilter) -> None:
    assert_indexed("runs", *needed_index(where))


def test_the_pending_results_query_has_an_index() -> None:
    assert_indexed("runs", *shape(FirestoreRunIndex(CLIENT).pending_query(WHEN)))


def test_the_usage_query_has_an_index() -> None:
    query = FirestoreUsage(CLIENT).query("org-a", WHEN.date(), WHEN.date())
    assert_indexed("usage", *shape(query))


def test_the_days_totals_aggregation_has_an_index() -> None:
    """Admission sums one day's shards: equality on tenant and day, which one index serves."""
    query = FirestoreUsage(CLIENT).day_query("org-a", WHEN.date())
    equality = frozenset(f.field.field_path for f in query._field_filters)
    served = [
        fields
        for name, fields in index_specs(Infra.load())
        if name == "usage" and {f for f, _ in fields} == equality
    ]
    assert equality == {"tenantId", "day"}
    assert served
