"""A tenant's usage of a day is spread over shard documents and summed on read.

Every create and every model step of a tenant increments its (day,
workflow) usage; one document would take all of those writes, and Firestore
sustains about one a second per document. The shards split them; readers
(`GET /v1/usage`, the admission check's aggregation) sum the shards.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared.engine import USAGE_SHARDS
from tests.helpers.stack import Stack

RUNS = 20
TOKENS_PER_RUN = 30  # one model call; the test server reports 10 + 20 tokens


def test_a_tenants_runs_spread_their_usage_writes_and_the_report_sums_them(stack: Stack):
    for _ in range(RUNS):
        stack.create_brainstorm()
    stack.deliver_all(rounds=RUNS * 2)
    today = datetime.now(UTC).date()

    shards = [s.to_dict() or {} for s in stack.services.db.collection("usage").stream()]
    report = stack.get(f"/v1/usage?from={today}&to={today}").get_json()

    assert 1 < len(shards) <= USAGE_SHARDS
    assert max(s.get("runs", 0) for s in shards) < RUNS  # no document took every create
    assert {(s["tenantId"], s["day"], s["workflow"]) for s in shards} == {
        ("org-a", today.isoformat(), "brainstorm.generate-seeds")
    }
    assert report["days"] == [
        {
            "day": today.isoformat(),
            "workflow": "brainstorm.generate-seeds",
            "runs": RUNS,
            "promptTokens": RUNS * 10,
            "completionTokens": RUNS * 20,
            "totalTokens": RUNS * TOKENS_PER_RUN,
            "costUsd": 0.0,
            "models": [
                {
                    "model": "test-model",
                    "promptTokens": RUNS * 10,
                    "completionTokens": RUNS * 20,
                    "totalTokens": RUNS * TOKENS_PER_RUN,
                    "costUsd": 0.0,
                }
            ],
        }
    ]
    assert stack.services.usage.day_totals("org-a", today) == (RUNS * TOKENS_PER_RUN, 0.0)
    assert report["today"]["totalTokens"] == RUNS * TOKENS_PER_RUN
