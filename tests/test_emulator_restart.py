"""The database restarting under a running job loses nothing and duplicates nothing.

Firestore's emulator is stopped and started again (its data exported and
imported, as a real database keeps it) while a step is calling the LLM. The
worker's next commit meets a database that came back with new update times;
it must carry on without redoing the step or duplicating its effects.
"""

from __future__ import annotations

from devtools.emulators import Emulators
from devtools.openai_server import Reply
from tests.helpers.stack import PROJECT, Stack


def test_firestore_restarting_mid_step_loses_and_duplicates_nothing(
    stack: Stack, emulators: Emulators
):
    created = stack.create_brainstorm(seedCount=6)

    def restart_then_answer(request: dict) -> Reply:
        emulators.restart_firestore(PROJECT)
        return Reply()

    stack.llm.responder = restart_then_answer
    deliveries = stack.deliver_all()

    assert [d.status for d in deliveries][-1] == 200
    session = stack.get(f"/v1/brainstorm-sessions/{created['sessionId']}").get_json()
    assert session["status"] == "COMPLETED"
    seeds = stack.services.db.collection(f"brainstormSessions/{created['sessionId']}/seeds")
    assert len(seeds.get()) == 6
    assert len(stack.llm.requests) == 1
    steps = {s["id"]: s for s in stack.run_view(created["runId"])["steps"]}
    assert steps["generate-seeds"]["attempts"] == 1


def test_a_pubsub_outage_during_create_still_gets_the_run_executed(
    stack: Stack, emulators: Emulators
):
    from datetime import timedelta

    emulators.stop_pubsub()
    try:
        created = stack.create_brainstorm()  # the run is durable: 202 all the same
        assert stack.run_doc(created["runId"])["status"] == "QUEUED"
    finally:
        emulators.start_pubsub()
    stack.reprovision()

    services = stack.services
    report = services.engine.sweep(services.now() + timedelta(minutes=3))
    stack.deliver_all()

    assert report.redriven == 1
    session = stack.get(f"/v1/brainstorm-sessions/{created['sessionId']}").get_json()
    assert session["status"] == "COMPLETED"
