"""Firestore `Write` messages for plain data, built on the raw protobuf classes.

Why: the client library builds each value of a write as a proto-plus
message, one Python object and marshal lookup per value; for the run store's
commits (a run's fields and step records, a step's documents) that was the
largest share of a worker's CPU after the commit round trips themselves
(`python -m bench.worker_profile`). These builders write the same `Write`
protobufs (`tests/test_firestore_writes.py` compares them with the
library's) straight into the raw messages, about ten times faster.

They take plain data only: None, bool, int, float, str (str enums too),
bytes, datetimes, and dicts and lists of those. Anything else (a sentinel
such as `Increment` or `DELETE_FIELD`, a reference, a GeoPoint) raises
`NotPlain`, and the caller uses the library's own path.
"""

from __future__ import annotations

import calendar
import functools
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from google.api_core import datetime_helpers as api_core_datetimes
from google.cloud.firestore_v1.field_path import FieldPath
from google.cloud.firestore_v1.types import write as write_types
from proto import datetime_helpers as proto_datetimes  # type: ignore[import-untyped]

_Write: Any = write_types.Write.pb()
# google.protobuf's Timestamp (the package ships no type stubs).
_Timestamp: Any = type(_Write().current_document.update_time)


def add(batch: Any, raw_write: Any) -> None:
    """Add a write built here to a `WriteBatch` (as the proto-plus message it holds)."""
    batch._add_write_pbs([write_types.Write.wrap(raw_write)])


class NotPlain(TypeError):
    """A value these builders do not encode (the library's path handles it)."""


def _encode(value: Any, into: Any) -> None:
    """Fill `into` (a raw `Value`) as `google.cloud.firestore_v1._helpers.encode_value` would."""
    if value is None:
        into.null_value = 0
    elif isinstance(value, bool):
        into.boolean_value = value
    elif isinstance(value, int):
        into.integer_value = value
    elif isinstance(value, float):
        into.double_value = value
    elif isinstance(value, str):
        into.string_value = value
    elif isinstance(value, dict):
        fields = into.map_value.fields
        into.map_value.SetInParent()  # an empty map is still a map
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotPlain(f"map key {key!r}")
            _encode(item, fields[key])
    elif isinstance(value, list | tuple):
        values = into.array_value.values
        into.array_value.SetInParent()
        for item in value:
            _encode(item, values.add())
    elif isinstance(value, datetime):
        into.timestamp_value.CopyFrom(_value_timestamp(value))
    elif isinstance(value, bytes):
        into.bytes_value = value
    else:
        raise NotPlain(type(value).__name__)


def _value_timestamp(value: datetime) -> Any:
    """A datetime value as the library encodes it (`_helpers.encode_value`).

    api_core's DatetimeWithNanoseconds keeps its nanoseconds; any other
    datetime is cut to microseconds, a naive one taken as UTC.
    """
    if isinstance(value, api_core_datetimes.DatetimeWithNanoseconds):
        return value.timestamp_pb()  # type: ignore[no-untyped-call]
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    seconds = calendar.timegm(value.astimezone(UTC).timetuple())
    return _Timestamp(seconds=seconds, nanos=value.microsecond * 1000)


def _precondition_timestamp(value: datetime) -> Any:
    """An update-time precondition as the library sets it (proto-plus's conversion).

    proto-plus's own DatetimeWithNanoseconds (what snapshots and write
    results carry as update times) keeps its nanoseconds: a precondition on
    a run's version must match it to the nanosecond. Any other datetime is
    cut to microseconds.
    """
    if isinstance(value, proto_datetimes.DatetimeWithNanoseconds):
        return value.timestamp_pb()
    return _Timestamp(seconds=int(value.timestamp()), nanos=value.microsecond * 1000)


@functools.lru_cache(maxsize=4096)
def _parts(key: str) -> tuple[str, ...]:
    return tuple(FieldPath.from_string(key).parts)


def update_write(name: str, fields: Mapping[str, Any], if_version: datetime | None) -> Any:
    """`WriteBatch.update(ref, fields, option)`: keys are field paths (dots nest).

    `if_version` is the last update time the document must still have
    (`client.write_option(last_update_time=...)`); None: it must exist.
    """
    write = _Write()
    document = write.update
    document.name = name
    for key, value in fields.items():
        *parents, leaf = _parts(key)
        target = document.fields
        for part in parents:
            holder = target[part]
            holder.map_value.SetInParent()
            target = holder.map_value.fields
        _encode(value, target[leaf])
    paths = sorted(FieldPath(*_parts(key)) for key in fields)
    write.update_mask.field_paths.extend(path.to_api_repr() for path in paths)
    if if_version is None:
        write.current_document.exists = True
    else:
        write.current_document.update_time.CopyFrom(_precondition_timestamp(if_version))
    return write


def set_write(name: str, data: Mapping[str, Any], *, create: bool = False) -> Any:
    """`WriteBatch.set(ref, data)` (keys are field names), or `create` (must not exist)."""
    write = _Write()
    document = write.update
    document.name = name
    for key, value in data.items():
        _encode(value, document.fields[key])
    if create:
        write.current_document.exists = False
    return write
