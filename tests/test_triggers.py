"""Trigger events: a backend publishes to the triggers topic and runs start, exactly once.

On the emulators: events are published with the real Pub/Sub client to the
stack's triggers topic, pulled from it and pushed to the worker entry point
as the triggers subscription would push them (the test decides when and how
many at once); the runs they start travel the events topic as any run's do.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.worker_process import WorkerProcess
from shared import creation
from shared.creation.sessions import start_session
from shared.engine import StepContext, Workflow, registry
from shared.models import paths
from shared.models.brainstorm import CreateBrainstormSession
from shared.models.common import CamelModel
from shared.models.documents import BrainstormSession
from shared.workflows.subject import GENERATION_SUBJECT
from tests.helpers.push_support import Pusher
from tests.helpers.stack import Stack

BRAINSTORM = "brainstorm.generate-seeds"
DATA = {"prompt": "A youth exchange about climate and street art", "seedCount": 5}


def event(event_id: str = "evt-1", name: str = BRAINSTORM, **data: Any) -> dict[str, Any]:
    return {"name": name, "data": {**DATA, **data}, "id": event_id, "ts": 1764979200000}


def count(stack: Stack, collection: str) -> int:
    aggregation: Any = stack.services.db.collection(collection).count()
    return int(aggregation.get()[0][0].value)


def run_of(stack: Stack, results: list[dict[str, Any]], status: str = "COMPLETED") -> Any:
    [result] = [r for r in results if r.get("status") == status]
    return result


def test_an_event_starts_a_run_whose_subject_the_tenant_reads_and_another_tenant_cannot(
    stack: Stack,
):
    stack.publish_event(event("evt-e2e"), tenantId="org-a", userId="user-7")

    [delivery] = stack.deliver_events()
    stack.deliver_all()

    assert delivery.status == 204 or delivery.status == 200, delivery.body
    result = run_of(stack, stack.results())
    assert (result["eventId"], result["eventName"]) == ("evt-e2e", BRAINSTORM)
    session_id = result["subject"].rsplit("/", 1)[1]
    session = stack.get(f"/v1/brainstorm-sessions/{session_id}", tenant="org-a")
    assert session.status_code == 200
    assert session.get_json()["status"] == "COMPLETED"
    assert len(session.get_json()["seeds"]) == 5
    assert stack.get(f"/v1/brainstorm-sessions/{session_id}", tenant="org-b").status_code == 404


def test_the_local_push_delivers_the_triggers_subscription_to_a_worker_process(
    stack: Stack, tmp_path: Path
):
    """`make emulators` provisions the triggers subscription and its deliverer pushes it."""
    worker = WorkerProcess(tmp_path).start()
    try:
        with Pusher(stack, worker) as pusher:
            stack.publish_event(event("evt-push"), tenantId="org-a")
            deadline = time.monotonic() + 30
            runs: list[Any] = []
            while time.monotonic() < deadline:
                runs = stack.get("/v1/runs?source=trigger").get_json()["runs"]
                if runs and runs[0]["status"] == "COMPLETED":
                    break
                time.sleep(0.2)
            topics = {d.topic for d in pusher.deliveries()}
    finally:
        worker.stop()

    assert [(r["eventId"], r["status"]) for r in runs] == [("evt-push", "COMPLETED")]
    assert stack.services.settings.triggers_topic in topics


def test_the_run_records_its_source_and_event_and_is_found_by_source(stack: Stack):
    stack.publish_event(event("evt-src"), tenantId="org-a")
    stack.deliver_events()
    http = stack.create_brainstorm()

    triggered = stack.get("/v1/runs?source=trigger").get_json()["runs"]
    created = stack.get("/v1/runs?source=http").get_json()["runs"]

    assert [r["runId"] for r in created] == [http["runId"]]
    [run] = triggered
    assert (run["source"], run["eventId"]) == ("trigger", "evt-src")
    view = stack.run_view(run["runId"])
    assert (view["source"], view["eventId"], view["eventName"]) == (
        "trigger",
        "evt-src",
        BRAINSTORM,
    )
    assert stack.run_doc(run["runId"])["userId"] == "trigger"  # no userId in the event


def test_the_tenant_and_user_may_come_in_data(stack: Stack):
    stack.publish_event(event("evt-data", tenantId="org-b", userId="user-9"))

    stack.deliver_events()

    [run] = stack.get("/v1/runs?source=trigger", tenant="org-b").get_json()["runs"]
    assert stack.run_doc(run["runId"])["userId"] == "user-9"


def test_the_same_event_published_twice_and_delivered_at_once_starts_one_run(stack: Stack):
    for _ in range(2):
        stack.publish_event(event("evt-twice"), tenantId="org-a")
    messages = stack.pull_events()
    assert len(messages) == 2
    gate = threading.Barrier(4)
    answers: list[int] = []

    def deliver(message: Any) -> None:
        gate.wait()
        answers.append(stack.push_event(message).status)

    threads = [threading.Thread(target=deliver, args=(m,)) for m in messages * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    stack.push_event(messages[0])  # and a late redelivery
    stack.deliver_all()

    assert all(status < 300 for status in answers), answers
    assert count(stack, "runs") == 1
    assert count(stack, "brainstormSessions") == 1
    assert len([r for r in stack.results() if r.get("status") == "COMPLETED"]) == 1


def test_an_event_without_an_id_is_decided_by_its_message_id(stack: Stack):
    body = {"name": BRAINSTORM, "data": DATA}
    message_id = stack.publish_event(body, tenantId="org-a")
    [message] = stack.pull_events()

    stack.push_event(message)
    stack.push_event(message)  # redelivered: the same message id

    [run] = stack.get("/v1/runs?source=trigger").get_json()["runs"]
    assert run["eventId"] == message_id
    assert count(stack, "runs") == 1


# -- one event, every workflow that listens ----------------------------------------------


class EchoInput(CamelModel):
    session_id: str


class Echoed(CamelModel):
    session_id: str


ECHO = Workflow(
    id="tests.brainstorm-echo",
    input_model=EchoInput,
    description="A second listener of brainstorm.generate-seeds: marks its session completed.",
    subject=GENERATION_SUBJECT,
    events=(BRAINSTORM,),
)


@ECHO.step("mark")
def _mark(ctx: StepContext[EchoInput]) -> Echoed:
    session = paths.brainstorm_session(ctx.input.session_id)
    ctx.merge(session, BrainstormSession.completed("echo", ctx.now))
    return Echoed(session_id=ctx.input.session_id)


def _create_echo(origin: creation.Origin, body: CreateBrainstormSession) -> creation.Created:
    session_id, run_id = origin.ids("echo")
    session = creation.started(
        origin,
        BrainstormSession,
        run_id,
        origin.services.now(),
        id=session_id,
        prompt=body.prompt,
        creativity_temp=body.creativity_temp,
        seed_count=body.seed_count,
    )
    return start_session(
        origin,
        workflow=ECHO,
        session_path=paths.brainstorm_session(session_id),
        session=session,
        run_input=EchoInput(session_id=session_id),
        location=f"/v1/brainstorm-sessions/{session_id}",
        request_of=lambda s: s.prompt,
    )


@pytest.fixture
def second_listener() -> Iterator[Workflow[EchoInput]]:
    registry.register(ECHO)
    creation.register(creation.Creator(ECHO, CreateBrainstormSession, _create_echo))
    try:
        yield ECHO
    finally:
        creation.unregister(ECHO.id)
        registry.unregister(ECHO.id)


def test_an_event_two_workflows_listen_to_starts_each_once(
    stack: Stack, second_listener: Workflow[EchoInput]
):
    stack.publish_event(event("evt-both"), tenantId="org-a")
    [message] = stack.pull_events()

    stack.push_event(message)
    stack.push_event(message)  # redelivered
    stack.deliver_all()

    runs = stack.get("/v1/runs?source=trigger").get_json()["runs"]
    assert sorted(r["workflow"] for r in runs) == sorted([BRAINSTORM, second_listener.id])
    assert {r["status"] for r in runs} == {"COMPLETED"}
    assert count(stack, "brainstormSessions") == 2
    functions = {f["id"]: f["events"] for f in stack.get("/v1/functions").get_json()["functions"]}
    assert functions[second_listener.id] == [BRAINSTORM]


def test_functions_list_the_events_that_start_each_workflow(stack: Stack):
    functions = {f["id"]: f["events"] for f in stack.get("/v1/functions").get_json()["functions"]}

    assert functions[BRAINSTORM] == [BRAINSTORM]
    assert functions["project.generate-from-idea"] == ["project.generate-from-idea"]
    assert functions["programme.generate-from-concept"] == ["programme.generate-from-concept"]
    assert functions["ops.bulk-cancel"] == []  # started by the bulk routes only
