"""The run store's single-document read gives exactly what the library's snapshot gives.

`shared/adapters/firestore_reads.py` makes the library's `BatchGetDocuments`
call and decodes with the library's `decode_dict`, skipping only the
snapshot's two deep copies. Compared here, on the Firestore emulator, with
`DocumentReference.get()` for a document holding every kind of value a run
keeps, and for a missing one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from google.cloud import firestore

from shared.adapters import firestore_reads

pytestmark = pytest.mark.emulators

DOCUMENT: dict[str, Any] = {
    "none": None,
    "yes": True,
    "int": 2**62,
    "float": 0.25,
    "text": "héllo ✓",
    "bytes": b"\x00\x01",
    "at": datetime(2026, 12, 6, 1, 2, 3, 456789, tzinfo=UTC),
    "list": [1, "two", None, {"three": 3.0}],
    "map": {"a": {"b": [True]}, "dotted.key": "kept as a name"},
    "steps": {"generate-seeds": {"status": "COMPLETED", "output": '{"seeds": []}'}},
}


def test_a_document_reads_as_the_librarys_snapshot_with_its_version(
    emptied_firestore: firestore.Client,
):
    reference = emptied_firestore.collection("runs").document("run-1")
    reference.set(DOCUMENT)
    snapshot = reference.get()

    found = firestore_reads.get(emptied_firestore, "runs/run-1")

    assert found is not None
    assert found.data == snapshot.to_dict()
    assert {k: type(v) for k, v in found.data.items()} == {
        k: type(v) for k, v in (snapshot.to_dict() or {}).items()
    }
    assert found.update_time == snapshot.update_time


def test_a_missing_document_reads_as_none(emptied_firestore: firestore.Client):
    assert firestore_reads.get(emptied_firestore, "runs/no-such-run") is None
