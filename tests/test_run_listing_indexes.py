"""Every query `GET /v1/runs` can send has its composite index in Terraform.

The queries are the ones the Firestore adapter really builds, read back from
the query objects, so a new filter without an index fails here, not in Cloud.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

from shared.adapters.firestore_runs import FirestoreRunIndex
from shared.engine.listing import RunFilter
from shared.engine.records import RunStatus
from tests.infra_support import Infra
from tests.test_infra_wiring import index_specs

WHEN = datetime(2026, 11, 1, tzinfo=UTC)

FILTERS = [
    RunFilter(
        statuses=statuses,
        workflow=workflow,
        created_after=WHEN if window else None,
        created_before=WHEN if window else None,
    )
    for statuses, workflow, window in itertools.product(
        [None, (RunStatus.FAILED,), (RunStatus.FAILED, RunStatus.CANCELLED)],
        [None, "brainstorm.generate-seeds"],
        [False, True],
    )
]


def needed_index(where: RunFilter) -> tuple[frozenset[str], tuple[str, str]]:
    """(equality fields, the ordered field) of the query the adapter builds for `where`."""
    client = firestore.Client(project="offline", credentials=AnonymousCredentials())
    query = FirestoreRunIndex(client).query("org-a", where)
    equality = frozenset(
        f.field.field_path
        for f in query._field_filters
        if f.op in (f.Operator.EQUAL, f.Operator.IN)
    )
    first = query._orders[0]
    return equality, (first.field.field_path, first.direction.name)


@pytest.mark.parametrize("where", FILTERS)
def test_the_list_query_has_an_index(where: RunFilter) -> None:
    equality, ordered = needed_index(where)
    specs = index_specs(Infra.load())

    served = [
        fields
        for collection, fields in specs
        if collection == "runs"
        and fields[-1] == ordered
        and {f for f, _ in fields[:-1]} == equality
    ]
    assert served, f"no index on runs for equality {sorted(equality)} ordered by {ordered}"
