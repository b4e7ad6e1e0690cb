"""Create the topics and push subscriptions on the Pub/Sub emulator, as Terraform does in Cloud.

Push endpoints carry the topic in their path (`/projects/<p>/topics/<t>`):
functions-framework turns that into the CloudEvent's source, which is how
the worker tells a dead-lettered message from a fresh one.
"""

from __future__ import annotations

import argparse
import contextlib
import sys

from google.api_core import exceptions as gexc
from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient
from google.pubsub_v1.types import DeadLetterPolicy, PushConfig, RetryPolicy


def push_endpoint(worker_url: str, project: str, topic: str) -> str:
    return f"{worker_url.rstrip('/')}/projects/{project}/topics/{topic}"


def provision(
    project: str,
    events_topic: str,
    dead_letter_topic: str,
    worker_url: str | None,
    *,
    max_delivery_attempts: int = 15,
    ack_deadline_seconds: int = 600,
) -> dict[str, str]:
    """Idempotently create both topics and, if a worker URL is given, both push subscriptions."""
    publisher = PublisherClient()
    subscriber = SubscriberClient()
    topics = {}
    for topic in (events_topic, dead_letter_topic):
        path = publisher.topic_path(project, topic)
        with contextlib.suppress(gexc.AlreadyExists):
            publisher.create_topic(name=path)
        topics[topic] = path
    subscriptions: dict[str, str] = {}
    if worker_url is None:
        return subscriptions
    for topic, dead_letter in ((events_topic, True), (dead_letter_topic, False)):
        name = subscriber.subscription_path(project, f"{topic}-worker-push")
        request: dict[str, object] = {
            "name": name,
            "topic": topics[topic],
            "push_config": PushConfig(push_endpoint=push_endpoint(worker_url, project, topic)),
            "ack_deadline_seconds": ack_deadline_seconds,
            "retry_policy": RetryPolicy(
                minimum_backoff={"seconds": 10}, maximum_backoff={"seconds": 600}
            ),
        }
        if dead_letter:
            request["dead_letter_policy"] = DeadLetterPolicy(
                dead_letter_topic=topics[dead_letter_topic],
                max_delivery_attempts=max_delivery_attempts,
            )
        with contextlib.suppress(gexc.AlreadyExists):
            subscriber.create_subscription(request=request)
        subscriptions[topic] = name
    return subscriptions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--project", required=True)
    parser.add_argument("--events-topic", default="generation-events")
    parser.add_argument("--dead-letter-topic", default="generation-events-dead-letter")
    parser.add_argument("--worker-url", default="http://127.0.0.1:8081")
    args = parser.parse_args(argv)
    subs = provision(args.project, args.events_topic, args.dead_letter_topic, args.worker_url)
    for topic, sub in subs.items():
        print(f"{topic} -> {sub} (push to {args.worker_url})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
