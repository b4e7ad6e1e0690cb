"""The run store's raw-protobuf writes are the very `Write` messages the library builds.

`shared/adapters/firestore_writes.py` builds creates, sets and updates of
plain data without the library's per-value proto-plus messages (a worker's
largest CPU cost after the round trips). Each case here is compared, field
by field, with what `google.cloud.firestore_v1` itself sends for the same
call; what the builders do not encode is refused, so the store falls back
to the library. No Java.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from enum import Enum
from typing import Any

import pytest
from google.api_core import datetime_helpers
from google.cloud import firestore
from google.cloud.firestore_v1 import _helpers
from google.cloud.firestore_v1.client import Client
from google.cloud.firestore_v1.field_path import FieldPath
from proto.datetime_helpers import DatetimeWithNanoseconds  # type: ignore[import-untyped]

from shared.adapters import firestore_writes

NAME = "projects/p/databases/(default)/documents/runs/run-1"


class Status(str, Enum):  # noqa: UP042 (as shared.engine's RunStatus)
    RUNNING = "RUNNING"


PLAIN: dict[str, Any] = {
    "none": None,
    "yes": True,
    "no": False,
    "int": 7,
    "big": 2**62,
    "float": 0.25,
    "text": "héllo ✓",
    "enum": Status.RUNNING,
    "bytes": b"\x00\x01",
    "at": datetime(2026, 12, 6, 1, 2, 3, 456789, tzinfo=UTC),
    "naive": datetime(2026, 12, 6, 1, 2, 3, 456789),
    "elsewhere": datetime(2026, 12, 6, 1, 2, 3, tzinfo=timezone(timedelta(hours=5))),
    "nanos": DatetimeWithNanoseconds(2026, 12, 6, 1, 2, 3, nanosecond=123456789, tzinfo=UTC),
    "api_core nanos": datetime_helpers.DatetimeWithNanoseconds(
        2026, 12, 6, 1, 2, 3, nanosecond=123456789, tzinfo=UTC
    ),
    "empty map": {},
    "empty list": [],
    "list": [1, "two", None, {"three": 3.0}],
    "map": {"a": {"b": [True]}, "dotted.key": "kept as a name"},
}
# What a snapshot's or a write result's update time is: proto-plus's, with nanoseconds.
VERSION = DatetimeWithNanoseconds(2026, 12, 6, 1, 2, 3, nanosecond=987654321, tzinfo=UTC)


def _library(writes: list[Any]) -> Any:
    [write] = writes
    return write._pb


def test_a_set_is_the_librarys_set():
    assert firestore_writes.set_write(NAME, PLAIN) == _library(
        _helpers.pbs_for_set_no_merge(NAME, PLAIN)
    )


def test_a_create_is_the_librarys_create():
    assert firestore_writes.set_write(NAME, PLAIN, create=True) == _library(
        _helpers.pbs_for_create(NAME, PLAIN)
    )


@pytest.mark.parametrize("version", [VERSION, datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), None])
def test_an_update_by_field_paths_is_the_librarys_update(version: datetime | None):
    fields = {
        **PLAIN,
        "status": Status.RUNNING,
        FieldPath("steps", "generate-seeds").to_api_repr(): {"status": "COMPLETED", "n": 1},
        FieldPath("steps", "save-seeds").to_api_repr(): {"output": None},
        "usage": {"totalTokens": 3},
    }
    option = None if version is None else Client.write_option(last_update_time=version)

    built = firestore_writes.update_write(NAME, fields, version)

    assert built == _library(_helpers.pbs_for_update(NAME, fields, option))


@pytest.mark.parametrize(
    "value", [firestore.Increment(1), firestore.DELETE_FIELD, firestore.SERVER_TIMESTAMP, {1: "x"}]
)
def test_what_is_not_plain_data_is_left_to_the_library(value: Any):
    with pytest.raises(firestore_writes.NotPlain):
        firestore_writes.set_write(NAME, {"field": {"nested": value}})
