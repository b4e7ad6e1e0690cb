"""Create on the Pub/Sub emulator what Terraform creates in Cloud (`infra/pubsub.tf`).

The events, dead-letter, results and triggers topics; the worker's
subscriptions to the events and the triggers topics, with Terraform's ack
deadline, retry policy and dead-letter policy; the worker's subscription to
the dead-letter topic, which fails the dead-lettered runs (and rejects
dead-lettered trigger events) and parks what it cannot fail (a topic of its
own, with a pull subscription an operator reads). The expected values live
here once, so `devtools.doctor` checks against the same.

Locally they are pull subscriptions: `devtools.push` pulls them and posts
each message to the worker as Cloud's push does (the emulator's own push
sends one message at a time). It posts to the endpoint Terraform
configures, with the topic in the path (`/projects/<p>/topics/<t>`):
functions-framework turns that into the CloudEvent's source, which is how
the worker tells a dead-lettered message from a fresh one.
(Cloud Scheduler's sweep tick is `SweepTick`, run by `make emulators`.)
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import sys
import time
from datetime import timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient
from google.pubsub_v1.types import DeadLetterPolicy, PushConfig, RetryPolicy

from devtools import supervise
from shared.config import (
    DEFAULT_DEAD_LETTER_TOPIC,
    DEFAULT_EVENTS_TOPIC,
    DEFAULT_RESULTS_TOPIC,
    DEFAULT_TRIGGERS_TOPIC,
)

# infra/variables.tf defaults: max_delivery_attempts, worker_timeout_seconds + 30.
MAX_DELIVERY_ATTEMPTS = 15
ACK_DEADLINE_SECONDS = 570
MIN_BACKOFF_SECONDS = 10
MAX_BACKOFF_SECONDS = 600


def push_endpoint(worker_url: str, project: str, topic: str) -> str:
    return f"{worker_url.rstrip('/')}/projects/{project}/topics/{topic}"


def push_envelope(
    project: str,
    data: bytes,
    attributes: dict[str, str],
    message_id: str | None = None,
    *,
    publish_time: str = "2026-11-29T00:00:00Z",
    subscription: str | None = None,
    ordering_key: str = "",
    delivery_attempt: int | None = None,
) -> dict[str, Any]:
    """The JSON body a Pub/Sub push subscription posts to its endpoint (the wrapped format).

    Cloud sends both spellings of the id and the publish time, leaves out
    empty attributes and ordering keys, and adds `deliveryAttempt` only on a
    subscription with a dead-letter policy.
    """
    message_id = message_id or str(time.time_ns())
    message: dict[str, Any] = {
        "data": base64.b64encode(data).decode(),
        "messageId": message_id,
        "message_id": message_id,
        "publishTime": publish_time,
        "publish_time": publish_time,
    }
    if attributes:
        message["attributes"] = attributes
    if ordering_key:
        message["orderingKey"] = ordering_key
    envelope: dict[str, Any] = {
        "message": message,
        "subscription": subscription or f"projects/{project}/subscriptions/push",
    }
    if delivery_attempt is not None:
        envelope["deliveryAttempt"] = delivery_attempt
    return envelope


def subscription_id(topic: str) -> str:
    """The worker's push subscription on `topic`, named as Terraform names it."""
    return f"{topic}-worker"


# Dead letters the worker could not fail either are parked, after Pub/Sub's
# minimum of attempts, on a topic whose pull subscription (of the same
# name) keeps them for an operator (infra/pubsub.tf: local.parked_topic).
PARKED_AFTER_ATTEMPTS = 5


def parked_topic(dead_letter_topic: str) -> str:
    return f"{dead_letter_topic}-parked"


def provision(
    project: str,
    events_topic: str,
    dead_letter_topic: str,
    *,
    subscriptions: bool = True,
    max_delivery_attempts: int = MAX_DELIVERY_ATTEMPTS,
    ack_deadline_seconds: int = ACK_DEADLINE_SECONDS,
    backoff_seconds: tuple[float, float] = (MIN_BACKOFF_SECONDS, MAX_BACKOFF_SECONDS),
    results_topic: str | None = None,
    triggers_topic: str | None = None,
) -> dict[str, str]:
    """Idempotently create the topics and (unless `subscriptions` is false) the worker's
    subscriptions; returns topic -> subscription path, what `devtools.push.LocalPush` delivers.

    The subscriptions carry Terraform's ack deadline, retry policy and
    dead-letter policy; only their push endpoint is missing: `devtools.push`
    delivers them. The results topic has no subscription here: the app's
    services create their own. The triggers topic's subscription has the
    events subscription's policies (a trigger event over its tenant's rate
    limit comes back after the backoff).
    """
    publisher = PublisherClient()
    subscriber = SubscriberClient()
    topics = {}
    parked = parked_topic(dead_letter_topic)
    optional = [t for t in (results_topic, triggers_topic) if t]
    for topic in (events_topic, dead_letter_topic, parked, *optional):
        path = publisher.topic_path(project, topic)
        with contextlib.suppress(gexc.AlreadyExists):
            publisher.create_topic(name=path)
        topics[topic] = path
    created: dict[str, str] = {}
    if not subscriptions:
        return created
    minimum, maximum = backoff_seconds
    with contextlib.suppress(gexc.AlreadyExists):
        subscriber.create_subscription(
            name=subscriber.subscription_path(project, parked), topic=topics[parked]
        )
    worker_topics = [
        (events_topic, dead_letter_topic, max_delivery_attempts),
        (dead_letter_topic, parked, PARKED_AFTER_ATTEMPTS),
    ]
    if triggers_topic:
        worker_topics.append((triggers_topic, dead_letter_topic, max_delivery_attempts))
    for topic, dead_letter, attempts in worker_topics:
        name = subscriber.subscription_path(project, subscription_id(topic))
        request: dict[str, object] = {
            "name": name,
            "topic": topics[topic],
            "ack_deadline_seconds": ack_deadline_seconds,
            "retry_policy": RetryPolicy(
                minimum_backoff=timedelta(seconds=minimum),
                maximum_backoff=timedelta(seconds=maximum),
            ),
        }
        request["dead_letter_policy"] = DeadLetterPolicy(
            dead_letter_topic=topics[dead_letter], max_delivery_attempts=attempts
        )
        with contextlib.suppress(gexc.AlreadyExists):
            subscriber.create_subscription(request=request)
        created[topic] = name
    return created


def repoint(project: str, subscriptions: dict[str, str], worker_url: str) -> None:
    """Make subscriptions (topic -> subscription path) push to a worker, as Cloud's do.

    Only for checks of a Cloud-shaped deployment (`doctor --project`): the
    local stack delivers through `devtools.push` instead.
    """
    subscriber = SubscriberClient()
    try:
        for topic, subscription in subscriptions.items():
            subscriber.modify_push_config(
                subscription=subscription,
                push_config=PushConfig(push_endpoint=push_endpoint(worker_url, project, topic)),
            )
    finally:
        subscriber.close()


class SweepTick:
    """Cloud Scheduler's job locally: the sweep message on the events topic every `every` s."""

    def __init__(self, project: str, topic: str, every: float) -> None:
        from shared.adapters.pubsub import PubSubPublisher

        self.every = every
        self._publisher = PubSubPublisher(project, topic)
        # The first tick at once: a stack is healthy (`make doctor`) from its start.
        self._next = time.monotonic()

    def tick_if_due(self) -> None:
        if self.every <= 0 or time.monotonic() < self._next:
            return
        self._next = time.monotonic() + self.every
        try:
            self._publisher.publish_sweep()
        except supervise.Stopped:
            raise  # Ctrl-C or SIGTERM during a tick's publish stops the stack all the same
        except Exception as exc:  # keep ticking: the emulator may be restarting
            print(f"sweep tick failed: {exc}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--project", required=True)
    parser.add_argument("--events-topic", default=DEFAULT_EVENTS_TOPIC)
    parser.add_argument("--dead-letter-topic", default=DEFAULT_DEAD_LETTER_TOPIC)
    parser.add_argument("--results-topic", default=DEFAULT_RESULTS_TOPIC)
    parser.add_argument("--triggers-topic", default=DEFAULT_TRIGGERS_TOPIC)
    args = parser.parse_args(argv)
    subs = provision(
        args.project,
        args.events_topic,
        args.dead_letter_topic,
        results_topic=args.results_topic,
        triggers_topic=args.triggers_topic,
    )
    for topic, sub in subs.items():
        print(f"{topic} -> {sub} (pull: `python -m devtools.push` delivers it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
