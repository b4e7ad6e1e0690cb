"""One document read, decoded as the client library decodes it, without its copies.

Why: `DocumentReference.get()` wraps the decoded fields in a
`DocumentSnapshot`, which deep-copies them when it is built and again on
`to_dict()`. For a run document (its step records and their outputs) those
two copies cost a worker about 2 ms of CPU per delivery, more than decoding
it (`python -m bench.worker_profile`). This makes the same
`BatchGetDocuments` call the library makes (its request, metadata, retry and
timeout) and decodes the found document with the library's own
`decode_dict`, once; `tests/test_firestore_reads.py` checks the result
against the library's snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.api_core import gapic_v1
from google.cloud import firestore
from google.cloud.firestore_v1 import _helpers


@dataclass(frozen=True)
class Found:
    """A document's fields and its version (its update time)."""

    data: dict[str, Any]
    update_time: Any


def get(db: firestore.Client, path: str) -> Found | None:
    """The document at `path` (relative to the database's documents), or None if missing."""
    reference = db.document(path)
    # As `reference.get()` asks: the library's default retry, no timeout.
    request, _, kwargs = db._prep_get_all([reference], None, None, gapic_v1.method.DEFAULT)
    responses = db._firestore_api.batch_get_documents(
        request=request, metadata=db._rpc_metadata, **kwargs
    )
    for response in responses:
        if response._pb.WhichOneof("result") == "found":
            found = response.found
            data = _helpers.decode_dict(found.fields, db)
            assert isinstance(data, dict)  # a document's fields decode to a map
            return Found(data, found.update_time)
    return None
