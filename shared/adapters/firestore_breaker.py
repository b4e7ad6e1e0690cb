"""Firestore implementation of the model breakers' `BreakerStore` (shared.llm.breaker).

Each model has a state document `llmBreaker/<model key>` holding `openUntil`
and `closedAfter` (epoch seconds); its counters (failures per window, probe
claims per cool-down) are documents of their own beside it, with `expireAt`
for the TTL policy in infra/firestore.tf. An exchange is one batch commit:
max-transforms on the state document and an increment on the counter, whose
results Firestore returns with the commit, so learning the shared state
costs no read. Nothing here runs on the happy path: only failures, probes
and a probe's success write. Each instance also listens to its models'
state documents (`watch`), so an opening reaches every instance as it
happens, for one read per opening or closing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from google.cloud import firestore

from shared.llm.breaker import Observed

BREAKERS = "llmBreaker"


class FirestoreBreakerStore:
    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def watch(
        self, provider: str, on_change: Callable[[Observed], None]
    ) -> FirestoreBreakerSubscription:
        """A snapshot listener on the model's state document.

        It costs one read when it starts and one per change of the document,
        which changes only when the breaker opens or closes (the counters are
        documents of their own): every instance hears of an opening at once,
        at no cost per call.
        """
        return _watch(self._db, provider, on_change)

    def exchange(
        self,
        provider: str,
        *,
        counter: str | None,
        open_until: float,
        closed_after: float,
        expires_at: float,
    ) -> Observed:
        breakers = self._db.collection(BREAKERS)
        batch = self._db.batch()
        batch.set(
            breakers.document(provider),
            {
                "openUntil": firestore.Maximum(float(open_until)),
                "closedAfter": firestore.Maximum(float(closed_after)),
            },
            merge=True,
        )
        if counter is not None:
            batch.set(
                breakers.document(f"{provider}-{counter}"),
                {
                    "count": firestore.Increment(1),
                    "expireAt": datetime.fromtimestamp(expires_at, UTC),
                },
                merge=True,
            )
        # Transform results come in the order of the write's transforms,
        # which the client sorts by field path: read that order, not ours.
        fields = [t.field_path for t in batch._write_pbs[0].update_transforms]
        results = batch.commit()
        state = dict(zip(fields, (_number(v) for v in results[0].transform_results), strict=True))
        count = int(_number(results[1].transform_results[0])) if counter is not None else 0
        return Observed(
            count=count, open_until=state["openUntil"], closed_after=state["closedAfter"]
        )


class FirestoreBreakerSubscription:
    def __init__(self, watch: Any) -> None:
        self._watch = watch

    def close(self) -> None:
        self._watch.unsubscribe()


def _watch(
    db: firestore.Client, provider: str, on_change: Callable[[Observed], None]
) -> FirestoreBreakerSubscription:
    def on_snapshot(docs: list[Any], changes: Any, read_time: Any) -> None:
        for snapshot in docs:
            data = snapshot.to_dict() or {}
            on_change(
                Observed(
                    count=0,
                    open_until=float(data.get("openUntil") or 0.0),
                    closed_after=float(data.get("closedAfter") or 0.0),
                )
            )

    ref = db.collection(BREAKERS).document(provider)
    return FirestoreBreakerSubscription(ref.on_snapshot(on_snapshot))


def _number(value: Any) -> float:
    """A transform's result (a Firestore `Value`): integer or double."""
    if value._pb.WhichOneof("value_type") == "integer_value":
        return float(value.integer_value)
    return float(value.double_value)
