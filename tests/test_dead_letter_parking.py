"""A dead letter the worker cannot fail either is parked, not delivered for good.

The dead-letter subscription has a dead-letter policy of its own (as
Terraform gives it): after five failed deliveries Pub/Sub moves the message
to the parked topic, whose pull subscription keeps it for an operator.
Checked on the Pub/Sub emulator with the subscriptions `devtools.provision`
creates, failing each delivery as a worker answering 5xx would.
"""

from __future__ import annotations

import json
import time

from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient

from devtools.provision import PARKED_AFTER_ATTEMPTS, parked_topic, provision, subscription_id
from tests.helpers.stack import Stack


def _pull_one(subscriber: SubscriberClient, subscription: str, wait: float = 10.0) -> object:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        response = subscriber.pull(
            request={"subscription": subscription, "max_messages": 1, "return_immediately": True},
            timeout=5,
        )
        if response.received_messages:
            return response.received_messages[0]
        time.sleep(0.05)
    return None


def test_a_dead_letter_failed_five_times_is_parked_for_an_operator(stack: Stack):
    settings = stack.services.settings
    project, dead_letter = settings.project, settings.dead_letter_topic
    # No backoff between deliveries, so the test does not wait for it.
    provision(project, settings.events_topic, dead_letter, backoff_seconds=(0, 0))
    subscriber = SubscriberClient()
    source = subscriber.subscription_path(project, subscription_id(dead_letter))
    parked = subscriber.subscription_path(project, parked_topic(dead_letter))
    data = json.dumps({"type": "run", "runId": "cannot-be-failed"}).encode()
    PublisherClient().publish(PublisherClient.topic_path(project, dead_letter), data).result()

    deliveries = 0
    while (received := _pull_one(subscriber, source, wait=3.0)) is not None:
        deliveries += 1
        # The worker answered 5xx: Pub/Sub may deliver it again.
        subscriber.modify_ack_deadline(
            request={
                "subscription": source,
                "ack_ids": [received.ack_id],  # type: ignore[attr-defined]
                "ack_deadline_seconds": 0,
            }
        )
        assert deliveries <= PARKED_AFTER_ATTEMPTS, "delivered again after it should be parked"

    assert deliveries == PARKED_AFTER_ATTEMPTS
    kept = _pull_one(subscriber, parked)
    assert kept is not None, "the parked subscription keeps it"
    assert kept.message.data == data  # type: ignore[attr-defined]
