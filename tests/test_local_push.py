"""The local stack's push (`devtools.push`) delivers as Cloud Pub/Sub push does.

On the Pub/Sub emulator with Terraform's subscriptions (here with a short
retry policy and few delivery attempts, so the tests take seconds): runs go
to a worker process many at once, a failing worker gets redeliveries only
after the retry policy's backoff, a burst of failures shrinks the window to
one push at a time, dead letters reach the worker with the attributes Cloud
sets, and a push unanswered within the ack deadline counts as failed and
comes back.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient
from google.pubsub_v1.types import ReceivedMessage

from devtools import REPO_ROOT
from devtools.openai_server import Reply
from devtools.polling import until
from devtools.provision import subscription_id
from devtools.push import Window
from devtools.worker_process import WorkerProcess
from tests.helpers.push_support import (
    Arrival,
    Endpoint,
    Pusher,
    peak_in_flight,
    settled,
)
from tests.helpers.stack import Stack

RUNS = 6
BACKOFF = (1.0, 2.0)


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {"TENANT_MAX_ACTIVE_RUNS": str(RUNS)}


@pytest.fixture
def worker(stack: Stack, tmp_path: Path) -> Iterator[WorkerProcess]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "THREADS": "16", "LOG_LEVEL": "WARNING"}
    started = WorkerProcess(tmp_path, env=env).start()
    try:
        yield started
    finally:
        started.stop()


def _publish_run(stack: Stack, run_id: str = "run-1") -> None:
    """A run event on the events topic, as the api publishes it."""
    settings = stack.services.settings
    data = json.dumps({"type": "run", "runId": run_id}).encode()
    topic = PublisherClient.topic_path(settings.project, settings.events_topic)
    PublisherClient().publish(topic, data, type="run", runId=run_id).result(timeout=10)


def _always(status: int, hold: float = 0.0) -> Endpoint:
    return Endpoint(lambda arrival: (status, hold)).start()


def test_runs_pushed_by_the_local_push_execute_at_once(stack: Stack, worker: WorkerProcess):
    # The model answers only when all RUNS calls are in flight together: one
    # push at a time (the emulator's own push) would never get there.
    everyone = threading.Barrier(RUNS, timeout=60)

    def together(request: dict[str, object]) -> Reply:
        everyone.wait()
        return Reply()

    stack.llm.responder = together
    with Pusher(stack, worker):
        created = [stack.create_brainstorm(seedCount=5) for _ in range(RUNS)]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            statuses = [stack.run_doc(c["runId"])["status"] for c in created]
            if all(s not in ("QUEUED", "RUNNING") for s in statuses):
                break
            time.sleep(0.2)

    assert stack.llm.peak_in_flight == RUNS
    assert statuses == ["COMPLETED"] * RUNS


def test_a_failing_worker_gets_redeliveries_only_after_the_retry_policy_backoff(stack: Stack):
    with _always(500) as endpoint, Pusher(stack, endpoint.url, backoff_seconds=BACKOFF):
        _publish_run(stack)
        arrivals = endpoint.wait_for(4, topic=stack.services.settings.events_topic)

    assert len(arrivals) == 4
    gaps = [b.at - a.at for a, b in itertools.pairwise(arrivals)]
    # The emulator alone redelivers a first failure at once (a gap of ~50 ms).
    assert min(gaps) >= BACKOFF[0], gaps
    assert [a.envelope["deliveryAttempt"] for a in arrivals] == [1, 2, 3, 4]


def test_a_dead_lettered_message_reaches_the_worker_with_the_attributes_cloud_sets(stack: Stack):
    settings = stack.services.settings

    def answer(arrival: Arrival) -> tuple[int, float]:
        return (204 if arrival.topic == settings.dead_letter_topic else 500), 0.0

    with (
        Endpoint(answer) as endpoint,
        Pusher(stack, endpoint.url, backoff_seconds=BACKOFF, max_delivery_attempts=5) as pusher,
    ):
        _publish_run(stack, "run-dead")
        [dead] = endpoint.wait_for(1, topic=settings.dead_letter_topic)
        attempts = endpoint.wait_for(5, topic=settings.events_topic, timeout=0)
        [delivered] = settled(pusher, 1, settings.dead_letter_topic)

    source = f"{settings.events_topic}-worker"
    assert len(attempts) == 5
    assert dead.envelope["subscription"] == (
        f"projects/{settings.project}/subscriptions/{settings.dead_letter_topic}-worker"
    )
    assert dead.attributes["runId"] == "run-dead"
    assert dead.attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == "5"
    assert dead.attributes["CloudPubSubDeadLetterSourceSubscription"] == source
    assert dead.attributes["CloudPubSubDeadLetterSourceSubscriptionProject"] == settings.project
    assert "CloudPubSubDeadLetterSourceTopicPublishTime" in dead.attributes
    assert dead.message["messageId"] == dead.message["message_id"]
    assert delivered.acked


def test_a_push_unanswered_within_the_ack_deadline_fails_and_comes_back(stack: Stack):
    settings = stack.services.settings
    ack_deadline = 10

    def answer(arrival: Arrival) -> tuple[int, float]:
        first = arrival.envelope["deliveryAttempt"] == 1
        return 200, (3 * ack_deadline if first else 0.0)

    with (
        Endpoint(answer) as endpoint,
        Pusher(
            stack, endpoint.url, backoff_seconds=BACKOFF, ack_deadline_seconds=ack_deadline
        ) as pusher,
    ):
        _publish_run(stack)
        first, second = endpoint.wait_for(2, topic=settings.events_topic)
        # By attempt, not in the order they settled: under load the first
        # push's timeout can fire after the emulator's lease expired, and the
        # redelivery then settles (200) before the first is recorded.
        assert until(lambda: {1, 2} <= {d.attempt for d in pusher.deliveries()})
        pushes = {d.attempt: d for d in pusher.deliveries(settings.events_topic)}
        unanswered, answered = pushes[1], pushes[2]

    assert second.message["messageId"] == first.message["messageId"]
    # The deadline runs from the pull; the redelivery then waits the backoff.
    assert second.at - first.at >= BACKOFF[0]
    assert unanswered.status is None
    assert not unanswered.acked
    assert "no answer within the ack deadline" in unanswered.error
    assert answered.acked
    assert answered.attempt == 2


def test_stop_returns_while_pulls_hang_and_what_waited_for_the_window_is_back_at_once(
    stack: Stack,
):
    # A window of one, two pulls: the first run is pushed and held, the
    # second arrives on the other pull and waits for room. The triggers
    # subscription's pull hangs (nothing to bring) for most of a minute.
    settings = stack.services.settings
    release = threading.Event()

    def hold(arrival: Arrival) -> tuple[int, float]:
        release.wait(60)
        return 204, 0.0

    pullers = {settings.events_topic: 2, settings.triggers_topic: 1, settings.dead_letter_topic: 0}
    with Endpoint(hold) as endpoint:
        pusher = Pusher(stack, endpoint.url, max_in_flight=1, pullers=pullers, pull_seconds=30)
        try:
            pusher.start()
            assert until(lambda: pusher.pulls_in_flight() == 3)
            _publish_run(stack, "run-pushed")
            endpoint.wait_for(1, topic=settings.events_topic)
            _publish_run(stack, "run-waiting")
            assert until(lambda: _waiting(pusher, settings.events_topic) == 1)

            pusher.stop()
            hanging = pusher.pulls_in_flight()
            back = _pull(stack, settings.events_topic, 1)  # well within the ack deadline
        finally:
            release.set()
            pusher.stop()

    assert hanging == 1  # stop did not wait out the triggers' hanging pull
    assert [m.message.attributes["runId"] for m in back] == ["run-waiting"]
    assert [a.attributes["runId"] for a in endpoint.arrivals] == ["run-pushed"]


def test_what_pulls_hanging_at_stop_bring_goes_back_once_when_they_have_ended(stack: Stack):
    # The emulator never notices a cancelled pull, so stop leaves its pulls
    # hanging. What one takes goes back when the subscription's last pull
    # has ended, not before: the other would take it again, and each take
    # counts a delivery attempt (from the second failed one, with backoff).
    settings = stack.services.settings
    pullers = {settings.events_topic: 2, settings.triggers_topic: 0, settings.dead_letter_topic: 0}
    with _always(204) as endpoint:
        pusher = Pusher(stack, endpoint.url, pullers=pullers, pull_seconds=30)
        with pusher:
            assert until(lambda: pusher.pulls_in_flight() == 2)
        _publish_run(stack, "run-1")
        assert until(lambda: pusher.pulls_in_flight() == 1)  # one pull took it and ended
        _publish_run(stack, "run-2")
        assert until(lambda: pusher.pulls_in_flight() == 0)
        closed = pusher.join(timeout=30)
        back = _pull(stack, settings.events_topic, 2)

    assert {m.message.attributes["runId"]: m.delivery_attempt for m in back} == {
        "run-1": 2,
        "run-2": 2,
    }
    assert closed
    assert endpoint.arrivals == []


def _pull(stack: Stack, topic: str, count: int) -> list[ReceivedMessage]:
    """Pull `count` messages of the topic's worker subscription (each pull waits up to 10 s)."""
    subscriber = SubscriberClient()
    received: list[ReceivedMessage] = []
    for _ in range(3 * count):
        response = subscriber.pull(
            subscription=_subscription(stack, topic), max_messages=count, timeout=10
        )
        received += response.received_messages
        if len(received) >= count:
            break
    return received


def _subscription(stack: Stack, topic: str) -> str:
    project = stack.services.settings.project
    return str(SubscriberClient.subscription_path(project, subscription_id(topic)))


def _waiting(pusher: Pusher, topic: str) -> int:
    [route] = [s for s in pusher.status()["subscriptions"] if s["topic"] == topic]
    waiting: int = route["waiting"]
    return waiting


def test_the_window_opens_with_successes_and_halves_with_failures():
    window = Window(cap=8)
    window.in_flight = 8
    for _ in range(3):
        window.settle(succeeded=False)

    assert window.size == 1.0
    assert window.room == 0  # 5 pushes still in flight

    window.in_flight = 0
    for _ in range(20):
        window.in_flight += 1
        window.settle(succeeded=True)

    assert window.size == 8.0


def test_a_failing_burst_shrinks_the_window_to_one_push_at_a_time(stack: Stack):
    # Eight first attempts are held until all eight are in flight, then fail
    # together: the window (cap 8) halves with each failure, down to one, so
    # the redeliveries start one at a time (and it reopens as they succeed).
    settings = stack.services.settings
    burst = 8
    endpoint: Endpoint

    def answer(arrival: Arrival) -> tuple[int, float]:
        if arrival.envelope["deliveryAttempt"] == 1:
            endpoint.wait_for(burst, topic=settings.events_topic, timeout=30)
            return 500, 0.0
        return 204, 0.2

    endpoint = Endpoint(answer)
    with (
        endpoint,
        Pusher(stack, endpoint.url, max_in_flight=burst, backoff_seconds=BACKOFF) as pusher,
    ):
        for number in range(burst):
            _publish_run(stack, f"run-{number}")
        pushes = settled(pusher, 2 * burst, settings.events_topic, timeout=60)

    failed = [p for p in pushes if p.attempt == 1]
    redelivered = sorted((p for p in pushes if p.attempt > 1), key=lambda p: p.started)
    assert len(failed) == burst
    assert not any(p.acked for p in failed)
    assert peak_in_flight(failed) == burst  # the window was open before the failures
    first, second = redelivered[:2]
    assert second.started >= first.ended, "two redeliveries in flight: the window did not shrink"
    assert sorted(p.attributes["runId"] for p in redelivered if p.acked) == sorted(
        f"run-{number}" for number in range(burst)
    )


def test_messages_published_after_a_push_stopped_reach_the_next_one(stack: Stack):
    # The emulator never notices a cancelled pull: one cancelled by a stopping
    # deliverer would still take these and leave them leased to nobody.
    settings = stack.services.settings
    with _always(204) as endpoint:
        with Pusher(stack, endpoint.url) as first:
            _publish_run(stack, "run-first")
            settled(first, 1, settings.events_topic)
            first.stop()  # as a deliverer whose subscriptions live on stops
        for number in range(5):
            _publish_run(stack, f"run-{number}")
        with Pusher(stack, endpoint.url) as second:
            delivered = settled(second, 5, settings.events_topic)

    assert sorted(d.attributes["runId"] for d in delivered) == [f"run-{n}" for n in range(5)]
    assert all(d.acked for d in delivered)
