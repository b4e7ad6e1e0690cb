"""The system under test, driven the way production drives it.

The api and the worker are the real entry points loaded by
functions-framework; requests go through its test client, and run events
travel through a real Pub/Sub emulator topic: `deliver_all` pulls them from a
test subscription and posts each to the worker as the CloudEvent a push
subscription produces.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import functions_framework
from flask.testing import FlaskClient
from google.api_core import exceptions as gexc
from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient

from devtools.openai_server import OpenAIServer
from devtools.provision import provision, push_envelope
from devtools.samples import WIZARD_ANSWERS
from shared import services as services_module
from shared.services import Services
from tests.helpers.auth_support import SigningKey, bearer, claims, mint

# The emulators' project for the test session (a demo- id: obviously not a real project).
PROJECT = "demo-genjobs-test"


def _provision_pull(subscriber: SubscriberClient, settings: Any) -> str:
    provision(
        settings.project, settings.events_topic, settings.dead_letter_topic, subscriptions=False
    )
    subscription: str = subscriber.subscription_path(
        settings.project, f"pull-{settings.events_topic}"
    )
    subscriber.create_subscription(
        request={
            "name": subscription,
            "topic": PublisherClient.topic_path(settings.project, settings.events_topic),
            "ack_deadline_seconds": 60,
        }
    )
    return subscription


def _provision_results(subscriber: SubscriberClient, settings: Any) -> str:
    """The results topic and a subscription that plays the app's consumer."""
    topic = PublisherClient.topic_path(settings.project, settings.results_topic)
    with suppress(gexc.AlreadyExists):
        PublisherClient().create_topic(request={"name": topic})
    subscription: str = subscriber.subscription_path(
        settings.project, f"pull-{settings.results_topic}"
    )
    with suppress(gexc.AlreadyExists):
        subscriber.create_subscription(request={"name": subscription, "topic": topic})
    return subscription


@dataclass
class Delivery:
    status: int
    body: str


@dataclass
class Stack:
    services: Services
    api: FlaskClient
    worker: FlaskClient
    key: SigningKey
    llm: OpenAIServer
    subscription: str
    subscriber: SubscriberClient
    results_subscription: str = ""
    worker_app: Any = None
    trigger_subscription: str = ""
    deliveries: list[Delivery] = field(default_factory=list)

    @classmethod
    @contextmanager
    def build(cls, repo: Path, key: SigningKey, llm: OpenAIServer) -> Iterator[Stack]:
        services_module.from_environment.cache_clear()
        services = services_module.from_environment()
        settings = services.settings
        subscriber = SubscriberClient()
        subscription = _provision_pull(subscriber, settings)
        results_subscription = _provision_results(subscriber, settings)
        api_app = functions_framework.create_app("api", str(repo / "functions/api/main.py"))
        worker_app = functions_framework.create_app(
            "worker", str(repo / "functions/worker/main.py")
        )
        stack = cls(
            services=services,
            api=api_app.test_client(),
            worker=worker_app.test_client(),
            key=key,
            llm=llm,
            subscription=subscription,
            subscriber=subscriber,
            results_subscription=results_subscription,
            worker_app=worker_app,
        )
        try:
            yield stack
        finally:
            for name in (subscription, results_subscription, stack.trigger_subscription):
                if not name:
                    continue
                with suppress(gexc.NotFound):
                    subscriber.delete_subscription(subscription=name)
            services_module.from_environment.cache_clear()

    def use_store(self, store: Any) -> None:
        """Swap the run store the api and worker use (to inject faults around the real one)."""
        self.services.override(store=store)

    def use_clock(self, clock: Any) -> None:
        """Run the api and the worker on `clock` (a `FakeClock`): every part is rebuilt on it."""
        self.services.clock = clock
        self.services.override()

    def reprovision(self) -> None:
        """Topics and the test subscription again, after the Pub/Sub emulator restarted."""
        _provision_pull(self.subscriber, self.services.settings)

    # -- the frontend's side ---------------------------------------------------

    def token(self, tenant: str = "org-a", user: str = "user-1") -> dict[str, str]:
        return {"Authorization": bearer(mint(self.key, claims(sub=user, org_id=tenant)))}

    def post(self, path: str, body: Any, tenant: str = "org-a", **headers: str) -> Any:
        return self.api.post(path, json=body, headers={**self.token(tenant), **headers})

    def get(self, path: str, tenant: str = "org-a") -> Any:
        return self.api.get(path, headers=self.token(tenant))

    def create_brainstorm(self, **overrides: Any) -> dict[str, Any]:
        body = {"prompt": "A youth exchange about climate and art", "seedCount": 5, **overrides}
        response = self.post("/v1/brainstorm-sessions", body)
        assert response.status_code == 202, response.get_json()
        created: dict[str, Any] = response.get_json()
        return created

    # -- Pub/Sub's side ----------------------------------------------------------

    def pull(
        self, max_messages: int = 10, wait: float = 5.0, subscription: str | None = None
    ) -> list[Any]:
        """Messages published since the last pull (acknowledged); [] after `wait` seconds.

        `wait=0`: everything published so far, at once (`published`): for
        "nothing was published", which no wait makes surer.
        """
        subscription = subscription or self.subscription
        if wait <= 0:
            return self.published(subscription)
        deadline = time.monotonic() + wait
        while True:
            response = self.subscriber.pull(
                request={
                    "subscription": subscription,
                    "max_messages": max_messages,
                    # Deprecated in Cloud, honoured by the emulator: an empty
                    # pull answers at once instead of holding the call open.
                    "return_immediately": True,
                },
                timeout=5,
            )
            received = list(response.received_messages)
            if received:
                self.subscriber.acknowledge(
                    request={
                        "subscription": subscription,
                        "ack_ids": [m.ack_id for m in received],
                    }
                )
                return [m.message for m in received]
            if time.monotonic() > deadline:
                return []
            time.sleep(0.05)

    def published(self, subscription: str | None = None) -> list[Any]:
        """Every message published so far and not pulled yet (acknowledged), without waiting.

        For "nothing (more) was published": what the api and the in-process
        worker publish is pullable when the call that published it returns
        (the publisher waits for the emulator's acknowledgement, and the
        emulator queues the message on each subscription before it
        acknowledges: an immediate pull after a publish found the message
        300 times out of 300), so no wait can add to an immediate pull.
        """
        subscription = subscription or self.subscription
        messages: list[Any] = []
        while True:
            response = self.subscriber.pull(
                request={
                    "subscription": subscription,
                    "max_messages": 100,
                    "return_immediately": True,
                },
                timeout=5,
            )
            received = list(response.received_messages)
            if not received:
                return messages
            self.subscriber.acknowledge(
                request={"subscription": subscription, "ack_ids": [m.ack_id for m in received]}
            )
            messages.extend(m.message for m in received)

    def push(
        self,
        data: bytes,
        attributes: dict[str, str] | None = None,
        topic: str | None = None,
        message_id: str | None = None,
    ) -> Delivery:
        """Post a message to the worker exactly as a Pub/Sub push subscription does."""
        settings = self.services.settings
        topic = topic or settings.events_topic
        envelope = push_envelope(settings.project, data, attributes or {}, message_id)
        response = self.worker.post(f"/projects/{settings.project}/topics/{topic}", json=envelope)
        delivery = Delivery(response.status_code, response.get_data(as_text=True))
        self.deliveries.append(delivery)
        return delivery

    def deliver_all(self, rounds: int = 20) -> list[Delivery]:
        """Deliver every published message (and what failed deliveries re-raise) to the worker.

        A failed delivery (5xx) is retried the way Pub/Sub redelivers it, up
        to `rounds` times in total.
        """
        done: list[Delivery] = []
        pending = [(m.data, dict(m.attributes)) for m in self.pull(wait=2.0)]
        for _ in range(rounds):
            if not pending:
                # The deliveries ran here, so what they published is there already.
                pending = [(m.data, dict(m.attributes)) for m in self.published()]
                if not pending:
                    break
            data, attributes = pending.pop(0)
            delivery = self.push(data, attributes)
            done.append(delivery)
            if delivery.status >= 500:
                pending.append((data, attributes))
        return done

    # -- trigger events (a backend publishing to the triggers topic) -------------

    def publish_event(self, event: dict[str, Any] | bytes, **attributes: str) -> str:
        """Publish to the triggers topic as a backend does; the Pub/Sub message id."""
        settings = self.services.settings
        if not self.trigger_subscription:
            provision(
                settings.project,
                settings.events_topic,
                settings.dead_letter_topic,
                subscriptions=False,
                triggers_topic=settings.triggers_topic,
            )
            name = self.subscriber.subscription_path(
                settings.project, f"pull-{settings.triggers_topic}"
            )
            topic = PublisherClient.topic_path(settings.project, settings.triggers_topic)
            with suppress(gexc.AlreadyExists):
                self.subscriber.create_subscription(request={"name": name, "topic": topic})
            self.trigger_subscription = name
        data = event if isinstance(event, bytes) else json.dumps(event).encode()
        topic = PublisherClient.topic_path(settings.project, settings.triggers_topic)
        message_id: str = PublisherClient().publish(topic, data, **attributes).result(timeout=10)
        return message_id

    def pull_events(self, wait: float = 2.0) -> list[Any]:
        """The trigger messages published since the last pull (as Pub/Sub would push them)."""
        return self.pull(100, wait=wait, subscription=self.trigger_subscription)

    def push_event(self, message: Any) -> Delivery:
        """One trigger message to the worker, as the triggers subscription pushes it."""
        return self.push(
            message.data,
            dict(message.attributes),
            topic=self.services.settings.triggers_topic,
            message_id=message.message_id,
        )

    def deliver_events(self, rounds: int = 20) -> list[Delivery]:
        """Deliver every published trigger event; a 5xx (a nack) comes back, up to `rounds`."""
        done: list[Delivery] = []
        pending = self.pull_events()
        for _ in range(rounds):
            if not pending:
                break
            message = pending.pop(0)
            delivery = self.push_event(message)
            done.append(delivery)
            if delivery.status >= 500:
                pending.append(message)
        return done

    def sweep(self) -> Delivery:
        """The Cloud Scheduler tick, as the worker receives it."""
        return self.push(b'{"type": "sweep"}', {"type": "sweep"})

    def results(self, wait: float = 2.0) -> list[dict[str, Any]]:
        """Run results published on the results topic since the last call."""
        messages = self.pull(100, wait=wait, subscription=self.results_subscription)
        return [json.loads(m.data) for m in messages]

    def published_run_ids(self, wait: float = 2.0) -> list[str]:
        return [m.attributes["runId"] for m in self.pull(wait=wait) if "runId" in m.attributes]

    def run_doc(self, run_id: str) -> dict[str, Any]:
        doc = self.services.db.collection("runs").document(run_id).get().to_dict()
        assert doc is not None
        return doc

    def run_view(self, run_id: str, tenant: str = "org-a") -> dict[str, Any]:
        response = self.get(f"/v1/runs/{run_id}", tenant)
        assert response.status_code == 200, response.get_json()
        view: dict[str, Any] = response.get_json()
        return view


def create_project(stack: Stack, **overrides: Any) -> str:
    """Run the idea wizard's workflow to completion; the new project's id."""
    response = stack.post("/v1/project-sessions", {**WIZARD_ANSWERS, **overrides})
    assert response.status_code == 202, response.get_json()
    stack.deliver_all()
    session_id = response.get_json()["sessionId"]
    session = stack.get(f"/v1/project-sessions/{session_id}").get_json()
    assert session["status"] == "COMPLETED", session
    project_id: str = session["projectId"]
    return project_id
