"""Pub/Sub push in the tests: the local stack's own deliverer, and a worker endpoint that records.

`Pusher` is `devtools.push.LocalPush` (what `make emulators` and `make dev`
run) on a test stack's topics: Terraform's subscriptions are provisioned
and delivered to a worker process, many pushes at once, with the retry
policy's backoff and dead-lettering. `Endpoint` stands in for the worker
where a test needs to script its answers (fail, hold past the ack deadline)
and to see exactly what arrived and when.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from devtools.local_server import LocalServer, QuietHandler, send_json
from devtools.provision import provision
from devtools.push import DEFAULT_MAX_IN_FLIGHT, PULL_SECONDS, Delivery, LocalPush
from devtools.worker_process import WorkerProcess
from tests.helpers.stack import Stack


class Pusher(LocalPush):
    """The stack's worker subscriptions, provisioned as Terraform declares them, pushed to `worker`.

    `max_in_flight` caps each subscription's window; `pullers` and
    `pull_seconds` are `LocalPush`'s; `provision_options` go to
    `devtools.provision.provision` (a short retry policy, fewer delivery
    attempts, a short ack deadline).
    """

    def __init__(
        self,
        stack: Stack,
        worker: WorkerProcess | str,
        *,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        pullers: Mapping[str, int] | None = None,
        pull_seconds: float = PULL_SECONDS,
        **provision_options: Any,
    ) -> None:
        settings = stack.services.settings
        routes = provision(
            settings.project,
            settings.events_topic,
            settings.dead_letter_topic,
            triggers_topic=settings.triggers_topic,
            **provision_options,
        )
        url = worker if isinstance(worker, str) else worker.url
        super().__init__(
            settings.project,
            routes,
            url,
            max_in_flight=max_in_flight,
            pullers=pullers,
            pull_seconds=pull_seconds,
        )


@dataclass(frozen=True)
class Arrival:
    """A push as the endpoint received it (monotonic time of arrival)."""

    at: float
    topic: str
    envelope: dict[str, Any]

    @property
    def message(self) -> dict[str, Any]:
        message: dict[str, Any] = self.envelope["message"]
        return message

    @property
    def attributes(self) -> dict[str, str]:
        attributes: dict[str, str] = self.message.get("attributes") or {}
        return attributes


# What the endpoint does with a push: an HTTP status, after holding it `hold` seconds.
Answer = Callable[[Arrival], tuple[int, float]]


class Endpoint(LocalServer):
    """A worker stand-in on 127.0.0.1 that records every push and answers as `answer` says."""

    def __init__(self, answer: Answer) -> None:
        super().__init__()
        self.answer = answer
        self.arrivals: list[Arrival] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)

    @property
    def url(self) -> str:
        return self.origin

    def handler(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def handle(self) -> None:
                try:
                    super().handle()
                except ConnectionResetError:  # the deliverer closed a kept-alive connection
                    return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                envelope = json.loads(self.rfile.read(length) or b"{}")
                arrival = Arrival(time.monotonic(), self.path.rsplit("/", 1)[-1], envelope)
                with endpoint._lock:
                    endpoint.arrivals.append(arrival)
                    endpoint._arrived.notify_all()
                status, hold = endpoint.answer(arrival)
                if hold:
                    time.sleep(hold)
                send_json(self, status, b"" if status == 204 else b"{}")  # 204: no body

        return Handler

    def wait_for(
        self, count: int, topic: str | None = None, timeout: float = 60.0
    ) -> list[Arrival]:
        """The first `count` arrivals (on `topic`), waiting up to `timeout` s for them."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [a for a in self.arrivals if topic is None or a.topic == topic]
                left = deadline - time.monotonic()
                if len(found) >= count or left <= 0:
                    return found[:count]
                self._arrived.wait(left)


def settled(pusher: LocalPush, count: int, topic: str, timeout: float = 30.0) -> list[Delivery]:
    """The first `count` pushes on `topic` the deliverer has settled (acked or failed)."""
    deadline = time.monotonic() + timeout
    while len(pusher.deliveries(topic)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return pusher.deliveries(topic)[:count]


def peak_in_flight(deliveries: list[Delivery]) -> int:
    """The most of these pushes the deliverer had in flight at one moment."""
    edges = sorted(
        [(d.started, 1) for d in deliveries] + [(d.ended, -1) for d in deliveries],
        key=lambda edge: (edge[0], edge[1]),  # an end before a start at the same instant
    )
    peak = current = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak
