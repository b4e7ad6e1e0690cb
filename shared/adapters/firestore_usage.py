"""Reads a tenant's usage documents (written by the engine's ledger) for a range of days.

The ledger spreads each (tenant, day, workflow) document over shards; every
shard carries the tenant, the day and the workflow, so one query finds them
all and the reader sums them. The admission check needs only one day's
totals: an aggregation query (two sums) answers it in one round trip,
billed as one read per 1000 shards.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.engine import COST_DECIMALS, USAGE_COLLECTION, DailyUsage

TENANT = DailyUsage.stored_name("tenant_id")
DAY = DailyUsage.stored_name("day")
TOTAL_TOKENS = DailyUsage.stored_name("total_tokens")
COST_USD = DailyUsage.stored_name("cost_usd")
# The counters summed over a day's shards.
COUNTERS = ("runs", "prompt_tokens", "completion_tokens", "total_tokens", "cost_usd")


class FirestoreUsage:
    def __init__(self, client: firestore.Client) -> None:
        self._db = client

    def query(self, tenant_id: str, first: date, last: date) -> firestore.Query:
        return (
            self._db.collection(USAGE_COLLECTION)
            .where(filter=FieldFilter(TENANT, "==", tenant_id))
            .where(filter=FieldFilter(DAY, ">=", first.isoformat()))
            .where(filter=FieldFilter(DAY, "<=", last.isoformat()))
            .order_by(DAY)
        )

    def days(self, tenant_id: str, first: date, last: date) -> list[DailyUsage]:
        """Usage of `first`..`last` (inclusive), by day then workflow, its shards summed."""
        summed: dict[tuple[str, str], DailyUsage] = {}
        for snapshot in self.query(tenant_id, first, last).stream():
            shard = DailyUsage.model_validate(snapshot.to_dict() or {})
            key = (shard.day, shard.workflow)
            total = summed.get(key)
            if total is None:
                summed[key] = shard
                continue
            added: dict[str, Any] = {
                name: getattr(total, name) + getattr(shard, name) for name in COUNTERS
            }
            models = dict(total.models)
            for model, used in shard.models.items():
                models[model] = models[model].plus(used) if model in models else used
            added["models"] = models
            summed[key] = total.model_copy(update=added)
        return [
            day.model_copy(update={"cost_usd": round(day.cost_usd, COST_DECIMALS)})
            for _, day in sorted(summed.items())
        ]

    def day_query(self, tenant_id: str, day: date) -> firestore.Query:
        return (
            self._db.collection(USAGE_COLLECTION)
            .where(filter=FieldFilter(TENANT, "==", tenant_id))
            .where(filter=FieldFilter(DAY, "==", day.isoformat()))
        )

    def day_totals(self, tenant_id: str, day: date) -> tuple[int, float]:
        """(total tokens, cost in USD) of the tenant's `day`, over every workflow and shard."""
        # The client's type hints get aggregations wrong (`sum` of the chained
        # AggregationQuery, `get` returning rows of results).
        query: Any = self.day_query(tenant_id, day)
        aggregation = query.sum(TOTAL_TOKENS, alias="tokens").sum(COST_USD, alias="cost")
        found = {result.alias: result.value for result in aggregation.get()[0]}
        return int(found.get("tokens") or 0), round(float(found.get("cost") or 0.0), COST_DECIMALS)
