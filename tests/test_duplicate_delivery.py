"""Pub/Sub delivers at least once: concurrent duplicates of a run execute each step once."""

from __future__ import annotations

import threading

from tests.helpers.stack import Stack


def test_concurrent_duplicate_deliveries_run_each_step_body_once(stack: Stack):
    stack.llm.delay = 0.5  # keep the first delivery busy while the others arrive
    created = stack.create_brainstorm(seedCount=5)
    [message] = stack.pull()
    results: list[int] = []

    def deliver() -> None:
        results.append(stack.push(message.data, dict(message.attributes)).status)

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results) == [200] * 5  # every duplicate is acknowledged, none retried
    assert len(stack.llm.requests) == 1
    seeds = stack.services.db.collection(f"brainstormSessions/{created['sessionId']}/seeds").get()
    assert len(seeds) == 5
    run = stack.run_view(created["runId"])
    assert run["status"] == "COMPLETED"
    assert [s["attempts"] for s in run["steps"]] == [1, 1, 1, 1]


def test_redelivery_of_a_completed_run_changes_nothing(stack: Stack):
    created = stack.create_brainstorm(seedCount=5)
    [message] = stack.pull()
    stack.push(message.data, dict(message.attributes))
    before = stack.run_doc(created["runId"])

    delivery = stack.push(message.data, dict(message.attributes))

    assert delivery.status == 200
    assert stack.run_doc(created["runId"]) == before
    assert len(stack.llm.requests) == 1
