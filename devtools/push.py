"""Pub/Sub push as Cloud makes it, for the local stack: `make emulators`, `make dev` and the tests.

Why it exists: the official emulator's own push sends one message at a time
per subscription (it pulls a message, posts it, waits for the answer, then
takes the next). The worker holds a push for its whole run, so through the
emulator's push the local stack ran one run at a time. Cloud Pub/Sub keeps
many pushes in flight. So the local stack keeps Terraform's subscriptions
(`infra/pubsub.tf`: ack deadline, retry policy, dead-letter policy) on the
emulator, as pull subscriptions, and this deliverer pulls them and posts each
message to the worker the way Cloud's push does:

- the wrapped push envelope functions-framework expects, at the endpoint
  Terraform configures (`.../projects/<p>/topics/<topic>`: the topic in the
  path is how the worker tells a dead letter from a run event);
- many pushes in flight at once, bounded per subscription by a window that
  opens by one with each success and halves with each failure, up to
  PUSH_MAX_IN_FLIGHT (`shared/config.py`, `LocalStackSettings`);
- an answer of 102, 200, 201, 202 or 204 acknowledges; anything else, no
  answer at all, or no answer within the subscription's ack deadline is a
  failure, and the message comes back after the retry policy's backoff;
- the emulator keeps the messages, counts delivery attempts and dead-letters
  after `max_delivery_attempts` (with the `CloudPubSubDeadLetter*`
  attributes Cloud sets; the dead-letter subscription is delivered here too).

Backoff: the emulator (0.8.20) applies the retry policy itself from a
message's second failure on (its own jittered exponential from
`minimum_backoff`, in whole seconds, capped at `maximum_backoff`), but
redelivers a first failure at once. So on a first failure the deliverer
keeps the message leased for `minimum_backoff` (modify_ack_deadline) instead
of nacking it, and every redelivery waits at least `minimum_backoff`, as in
Cloud.

Where it runs: `make emulators` / `make dev` start it as a child process
(`python -m devtools.push`, dying with its parent like the other children);
the tests and the benchmarks run `LocalPush` in process. While it runs it
keeps a status file (`status_path`) that `make doctor` reads.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from google.api_core import exceptions as gexc
from google.cloud.pubsub_v1 import SubscriberClient
from google.pubsub_v1.types import ReceivedMessage, Subscription

from devtools import REPO_ROOT
from devtools.provision import push_endpoint, push_envelope

log = logging.getLogger("devtools.push")

# What Cloud's push takes as an acknowledgement (any other answer is a nack).
ACK_STATUSES = frozenset({102, 200, 201, 202, 204})
USER_AGENT = "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)"
DEFAULT_MAX_IN_FLIGHT = 100
# Hanging pulls kept open per subscription. The emulator looks for new
# messages every 50 ms per pull: several pulls at once deliver sooner (4:
# about 10 ms on average instead of 25), and each costs the emulator a poll
# every 50 ms (4 pulls: about 1% of a core).
PULLERS = 4
# A pull's deadline. The emulator answers (empty) a second before it, and
# it never notices a pull its client cancelled (its hanging-pull loop asks
# the call whether it was cancelled, but the cancel does not get through the
# emulator's gRPC front end): such a pull would still take messages for the
# rest of its time and leave them leased to nobody for the ack deadline. So
# pulls are never cancelled: stopping returns at once, each hanging pull
# ends on its own (within PULL_SECONDS - 1 s), and what it brings goes back
# (see `LocalPush.stop`).
PULL_SECONDS = 3.0
# A push gives up this long before the emulator's lease would expire, so
# its failure (and backoff) is recorded before the emulator redelivers.
LEASE_MARGIN_SECONDS = 1.0
STATUS_EVERY_SECONDS = 1.0
# Deliveries a `LocalPush` remembers (for tests, benchmarks and the status file).
HISTORY = 10_000


def status_path(pubsub_host: str) -> Path:
    """Where the deliverer of the emulator at `pubsub_host` writes its status for `make doctor`."""
    return REPO_ROOT / ".dev" / f"push-{pubsub_host.replace(':', '-')}.json"


@dataclass(frozen=True)
class Policy:
    """What the deliverer follows, read from the subscription as provisioned."""

    ack_deadline: float
    minimum_backoff: float | None  # None: no retry policy (Pub/Sub redelivers at once)
    maximum_backoff: float | None
    max_delivery_attempts: int | None  # None: no dead-letter policy

    @classmethod
    def of(cls, subscription: Subscription) -> Policy:
        retry = subscription.retry_policy
        has_retry = "retry_policy" in subscription
        dead_letter = subscription.dead_letter_policy
        return cls(
            ack_deadline=float(subscription.ack_deadline_seconds or 10),
            minimum_backoff=_seconds(retry.minimum_backoff) if has_retry else None,
            maximum_backoff=_seconds(retry.maximum_backoff) if has_retry else None,
            max_delivery_attempts=(
                dead_letter.max_delivery_attempts if dead_letter.dead_letter_topic else None
            ),
        )

    def hold_after_failure(self, attempt: int) -> int:
        """Seconds to keep a failed message leased before the emulator may redeliver it.

        Only a first failure is held: the emulator applies the retry policy
        itself from the second on (see the module's docstring).
        """
        if self.minimum_backoff is None or attempt > 1:
            return 0
        return min(600, math.ceil(self.minimum_backoff))


def _seconds(duration: Any) -> float:
    # proto-plus turns google.protobuf.Duration into datetime.timedelta.
    return float(duration.total_seconds())


class Window:
    """How many pushes of one subscription may be in flight: Pub/Sub's push window.

    It opens by one with each successful push and halves with each failure
    (never below one), up to `cap`. It starts open, as a subscription whose
    pushes have been succeeding: Cloud starts a new subscription in single
    digits and opens it the same way as pushes succeed.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.size = float(cap)
        self.in_flight = 0

    @property
    def room(self) -> int:
        return max(0, int(self.size) - self.in_flight)

    def settle(self, succeeded: bool) -> None:
        self.in_flight -= 1
        self.size = min(self.cap, self.size + 1) if succeeded else max(1.0, self.size / 2)


@dataclass(frozen=True)
class Delivery:
    """One push: when it started and ended (monotonic seconds) and how it went."""

    subscription: str
    topic: str
    message_id: str
    attempt: int
    started: float
    ended: float
    status: int | None  # None: no HTTP answer (refused, reset, ack deadline)
    acked: bool
    error: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


class _Route:
    """One subscription: its pullers, its window, its pushes."""

    def __init__(self, owner: LocalPush, topic: str, subscription: str) -> None:
        self.owner = owner
        self.topic = topic
        self.subscription = subscription
        self.short_name = subscription.rsplit("/", 1)[-1]
        self.policy: Policy | None = None
        self.window = Window(owner.max_in_flight)
        # Pulled while the window was full (the pulls run ahead of it a little).
        self.waiting: deque[tuple[ReceivedMessage, float]] = deque()
        # Handed to the pool, not yet pushing (by ack id).
        self.queued: dict[str, ReceivedMessage] = {}
        # Brought by a pull that was hanging when the deliverer stopped.
        self.after_stop: list[str] = []
        self.pulling = 0  # pulls under way
        self.pullers_left = 0  # puller threads not yet ended
        self.delivered = 0
        self.failed = 0
        self.failing = False  # the last pull failed
        self.lock = threading.Lock()
        self.room_changed = threading.Condition(self.lock)

    def status(self) -> dict[str, Any]:
        with self.lock:
            return {
                "subscription": self.subscription,
                "topic": self.topic,
                "window": int(self.window.size),
                "inFlight": self.window.in_flight,
                "waiting": len(self.waiting),
                "delivered": self.delivered,
                "failed": self.failed,
            }

    # -- pulling -------------------------------------------------------------

    def pull_forever(self) -> None:
        owner = self.owner
        while not owner.stopping.is_set():
            with self.lock:
                while not owner.stopping.is_set() and self.window.room <= len(self.waiting):
                    self.room_changed.wait(0.5)
                wanted = self.window.room - len(self.waiting)
            if owner.stopping.is_set():
                return
            try:
                if self.policy is None:
                    self.policy = Policy.of(
                        owner.subscriber.get_subscription(
                            subscription=self.subscription, timeout=10
                        )
                    )
                with self.lock:
                    self.pulling += 1
                try:
                    response = owner.subscriber.pull(
                        subscription=self.subscription,
                        max_messages=max(1, wanted),
                        timeout=owner.pull_seconds,
                        retry=None,
                    )
                finally:
                    with self.lock:
                        self.pulling -= 1
            except (gexc.DeadlineExceeded, gexc.Cancelled):
                continue
            except Exception as exc:  # the emulator restarting, a subscription deleted
                if owner.stopping.is_set():
                    return
                if isinstance(exc, gexc.NotFound):
                    self.policy = None  # provisioned again later, perhaps differently
                if not self.failing:  # once per outage, not once a second per puller
                    log.warning("pulling %s failed: %s; trying again", self.short_name, exc)
                self.failing = True
                owner.stopping.wait(1.0)
                continue
            self.failing = False
            pulled_at = time.monotonic()
            if owner.stopping.is_set():  # a pull that was hanging when the deliverer stopped
                with self.lock:
                    self.after_stop += [m.ack_id for m in response.received_messages]
                return
            for received in response.received_messages:
                self.offer(received, pulled_at)

    def offer(self, received: ReceivedMessage, pulled_at: float) -> None:
        with self.lock:
            if self.window.room > 0 and not self.waiting and not self.owner.stopping.is_set():
                self.window.in_flight += 1
                self.queued[received.ack_id] = received
            else:
                self.waiting.append((received, pulled_at))
                return
        self._submit(received, pulled_at)

    def _submit(self, received: ReceivedMessage, pulled_at: float) -> None:
        """Hand a message in `queued` to the pool (put back with the rest if it is shut)."""
        with contextlib.suppress(RuntimeError):  # shut down: stopping
            self.owner.pool.submit(self.push, received, pulled_at)

    # -- pushing -------------------------------------------------------------

    def push(self, received: ReceivedMessage, pulled_at: float) -> None:
        owner = self.owner
        with self.lock:
            if self.queued.pop(received.ack_id, None) is None:
                return  # put back before its push began (the deliverer stopped)
        policy = self.policy or Policy(600.0, None, None, None)
        message = received.message
        attempt = received.delivery_attempt or 1
        envelope = push_envelope(
            owner.project,
            message.data,
            dict(message.attributes),
            message.message_id,
            publish_time=message.publish_time.rfc3339(),
            subscription=self.subscription,
            ordering_key=message.ordering_key,
            delivery_attempt=attempt if policy.max_delivery_attempts else None,
        )
        url = push_endpoint(owner.worker_url, owner.project, self.topic)
        # The lease started when the message was pulled; the push must answer within it.
        left = policy.ack_deadline - (time.monotonic() - pulled_at) - LEASE_MARGIN_SECONDS
        started = time.monotonic()
        status: int | None = None
        error = ""
        if left <= 0:
            error = f"not pushed within the ack deadline ({policy.ack_deadline:g} s)"
        else:
            try:
                response = owner.http.post(
                    url,
                    content=json.dumps(envelope).encode(),
                    headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
                    timeout=httpx.Timeout(left, connect=min(left, 10.0)),
                )
                status = response.status_code
            except httpx.TimeoutException:
                error = f"no answer within the ack deadline ({policy.ack_deadline:g} s)"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
        acked = status in ACK_STATUSES
        try:
            if acked:
                owner.subscriber.acknowledge(
                    subscription=self.subscription, ack_ids=[received.ack_id], timeout=10
                )
            else:
                hold = policy.hold_after_failure(attempt)
                owner.subscriber.modify_ack_deadline(
                    subscription=self.subscription,
                    ack_ids=[received.ack_id],
                    ack_deadline_seconds=hold,
                    timeout=10,
                )
                self._report_failure(received, attempt, status, error, hold, policy)
        except Exception as exc:  # the lease then expires and the emulator redelivers
            if not owner.stopping.is_set():
                log.warning("settling message %s failed: %s", message.message_id, exc)
        owner.record(
            Delivery(
                subscription=self.subscription,
                topic=self.topic,
                message_id=message.message_id,
                attempt=attempt,
                started=started,
                ended=time.monotonic(),
                status=status,
                acked=acked,
                error=error,
                attributes=dict(message.attributes),
            )
        )
        self._settled(acked)

    def _settled(self, acked: bool) -> None:
        more: list[tuple[ReceivedMessage, float]] = []
        with self.lock:
            self.window.settle(acked)
            if acked:
                self.delivered += 1
            else:
                self.failed += 1
            while self.waiting and self.window.room > 0 and not self.owner.stopping.is_set():
                received, pulled_at = self.waiting.popleft()
                more.append((received, pulled_at))
                self.queued[received.ack_id] = received
                self.window.in_flight += 1
            self.room_changed.notify_all()
        for received, pulled_at in more:
            self._submit(received, pulled_at)

    def _report_failure(
        self,
        received: ReceivedMessage,
        attempt: int,
        status: int | None,
        error: str,
        hold: int,
        policy: Policy,
    ) -> None:
        what = f"HTTP {status}" if status is not None else error
        of = f"/{policy.max_delivery_attempts}" if policy.max_delivery_attempts else ""
        if policy.max_delivery_attempts and attempt >= policy.max_delivery_attempts:
            then = "Pub/Sub dead-letters it"
        elif policy.minimum_backoff is None:
            then = "redelivered at once"
        elif hold:
            then = f"redelivered in {hold} s"
        else:
            then = "redelivered after the retry policy's backoff"
        run = received.message.attributes.get("runId")
        log.info(
            "push of message %s%s to %s failed (%s), attempt %d%s: %s",
            received.message.message_id,
            f" (run {run})" if run else "",
            self.topic,
            what,
            attempt,
            of,
            then,
        )

    def put_back(self, ack_ids: list[str]) -> None:
        """Let the emulator redeliver these at once (they were pulled but will not be pushed)."""
        if not ack_ids:
            return
        with contextlib.suppress(Exception):
            self.owner.subscriber.modify_ack_deadline(
                subscription=self.subscription,
                ack_ids=ack_ids,
                ack_deadline_seconds=0,
                timeout=5,
            )

    def puller_ended(self) -> None:
        """A puller thread ended; the last one (once stopping) puts back all that was not pushed.

        Only then: a message put back while another pull of this
        subscription still hangs could be taken again, and each take counts
        as a delivery attempt (from a message's second failed one the
        emulator applies the retry policy's backoff, and enough of them
        dead-letter it). So every message goes back once, with one attempt
        counted at most, as soon as this subscription's pulls have ended.
        """
        with self.lock:
            self.pullers_left -= 1
            if self.pullers_left or not self.owner.stopping.is_set():
                return
            ack_ids = [received.ack_id for received, _ in self.waiting]
            ack_ids += [*self.queued, *self.after_stop]
            self.waiting.clear()
            self.queued.clear()
            self.after_stop.clear()
        self.put_back(ack_ids)


class LocalPush:
    """Delivers the worker's subscriptions to `worker_url` as Cloud's push would.

    `routes` maps each topic to its subscription path (what `provision`
    returns). Start and stop it, or use it as a context manager.
    """

    def __init__(
        self,
        project: str,
        routes: Mapping[str, str],
        worker_url: str,
        *,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        status_file: Path | None = None,
        pullers: Mapping[str, int] | None = None,
        pull_seconds: float = PULL_SECONDS,
    ) -> None:
        self.project = project
        self.pull_seconds = pull_seconds
        self.worker_url = worker_url.rstrip("/")
        self.max_in_flight = max_in_flight
        self.status_file = status_file
        self.stopping = threading.Event()
        self.subscriber = SubscriberClient()
        self.http = httpx.Client(
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=max_in_flight)
        )
        self.routes = [_Route(self, topic, path) for topic, path in routes.items()]
        # Hanging pulls per topic: PULLERS unless `pullers` says (then 1 for the others).
        self.pullers = {
            topic: PULLERS if pullers is None else pullers.get(topic, 1) for topic in routes
        }
        self.pool = ThreadPoolExecutor(
            max_workers=max_in_flight * max(1, len(self.routes)), thread_name_prefix="push"
        )
        self.history: deque[Delivery] = deque(maxlen=HISTORY)
        self.on_delivery: Callable[[Delivery], None] | None = None
        self._threads: list[threading.Thread] = []  # the pullers
        self._status_thread: threading.Thread | None = None
        self._status_lock = threading.Lock()
        self._history_lock = threading.Lock()
        self._pullers_left = 0  # puller threads not yet ended
        self._pullers_lock = threading.Lock()
        self._closed = threading.Event()

    def start(self) -> LocalPush:
        for route in self.routes:
            for number in range(self.pullers[route.topic]):
                thread = threading.Thread(
                    target=self._pull, args=(route,), name=f"pull-{route.short_name}-{number}"
                )
                thread.daemon = True
                with self._pullers_lock:
                    self._pullers_left += 1
                with route.lock:
                    route.pullers_left += 1
                self._threads.append(thread)
                thread.start()
        if self.status_file is not None:
            self._status_thread = threading.Thread(
                target=self._keep_status, name="push-status", daemon=True
            )
            self._status_thread.start()
        return self

    def _pull(self, route: _Route) -> None:
        try:
            route.pull_forever()
        finally:
            route.puller_ended()
            with self._pullers_lock:
                self._pullers_left -= 1
                last = self._pullers_left == 0
            if last and self.stopping.is_set():
                self._close()

    def retarget(self, worker_url: str) -> None:
        """Push to another worker from now on (a push already under way finishes where it is).

        The status file says so at once (`make doctor` reads the URL there).
        """
        self.worker_url = worker_url.rstrip("/")
        self._write_status()

    def record(self, delivery: Delivery) -> None:
        with self._history_lock:
            self.history.append(delivery)
        if self.on_delivery is not None:
            self.on_delivery(delivery)

    def deliveries(self, topic: str | None = None) -> list[Delivery]:
        with self._history_lock:
            return [d for d in self.history if topic is None or d.topic == topic]

    def status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "project": self.project,
            "workerUrl": self.worker_url,
            "maxInFlight": self.max_in_flight,
            "updatedAt": time.time(),
            "subscriptions": [route.status() for route in self.routes],
        }

    def _keep_status(self) -> None:
        assert self.status_file is not None
        self.status_file.parent.mkdir(parents=True, exist_ok=True)
        while True:
            self._write_status()
            if self.stopping.wait(STATUS_EVERY_SECONDS):
                return

    def _write_status(self) -> None:
        if self.status_file is None or self._status_thread is None:
            return
        with self._status_lock:  # the newest status last
            if not self.stopping.is_set():
                _write_atomically(self.status_file, json.dumps(self.status(), indent=1))

    def pulls_in_flight(self) -> int:
        """Pulls under way now (after `stop`, those still hanging on the emulator)."""
        total = 0
        for route in self.routes:
            with route.lock:
                total += route.pulling
        return total

    def stop(self) -> None:
        """Stop pulling and pushing; messages pulled but not pushed go back to the emulator.

        Returns at once (it used to wait out the hanging pulls: about 2 s).
        The hanging pulls are neither cancelled (the emulator would not
        notice: see PULL_SECONDS) nor waited for: each ends on its own
        within PULL_SECONDS - 1 s. Messages waiting for room in the window,
        handed to a push that has not begun, or brought by a pull after the
        stop go back (ack deadline 0) as soon as their subscription's pulls
        have ended: at once for a subscription with no pull hanging, within
        PULL_SECONDS - 1 s otherwise, and never twice (`_Route.puller_ended`).
        The last pull to end closes the clients (`join` waits for that).
        Pushes under way finish or fail where they are (one that ends after
        the clients closed goes back when its lease expires).
        """
        if self.stopping.is_set():
            return
        with self._status_lock:  # no status written after the file is removed
            self.stopping.set()
        self.pool.shutdown(wait=False, cancel_futures=True)
        for route in self.routes:
            with route.lock:  # pullers waiting for room in the window end now
                route.room_changed.notify_all()
        if self._status_thread is not None:
            self._status_thread.join(timeout=STATUS_EVERY_SECONDS + 5)
        if self.status_file is not None:
            with contextlib.suppress(FileNotFoundError):
                self.status_file.unlink()
        with self._pullers_lock:
            idle = self._pullers_left == 0
        if idle:  # never started, or every puller already ended
            self._close()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until a stopped deliverer's last pull has ended and its clients are closed."""
        return self._closed.wait(timeout)

    def _close(self) -> None:
        with self._pullers_lock:  # once: the last puller and `stop` may both get here
            if self._closed.is_set():
                return
            self.subscriber.close()
            self.http.close()
            self._closed.set()

    def __enter__(self) -> LocalPush:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _write_atomically(path: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as out:
        out.write(text)
    os.replace(out.name, path)


def command(*extra: str) -> list[str]:
    """How `make emulators` and `make dev` start the deliverer (it reads the environment)."""
    return [sys.executable, "-m", "devtools.push", *extra]


def read_status(path: Path) -> dict[str, Any] | None:
    try:
        status: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return status


def main(argv: list[str] | None = None) -> int:
    from devtools import supervise
    from devtools.local_config import LocalConfig
    from devtools.provision import subscription_id

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="push: %(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per push otherwise
    supervise.die_with_parent()
    supervise.stop_on_signals()
    config = LocalConfig.from_env(os.environ)
    routes = {
        topic: SubscriberClient.subscription_path(config.project, subscription_id(topic))
        for topic in config.worker_topics
    }
    deliverer = LocalPush(
        config.project,
        routes,
        config.worker_url,
        max_in_flight=config.push_max_in_flight,
        status_file=status_path(f"127.0.0.1:{config.pubsub_port}"),
        # Dead letters are rare and need no haste: one pull keeps them moving.
        pullers={config.events_topic: PULLERS, config.triggers_topic: PULLERS},
    )

    def serve() -> int:
        deliverer.start()
        while True:
            time.sleep(3600)

    # Its emulator stops with it (`make emulators` / `make dev`): no need to
    # wait for the hanging pulls to end (`join`) before exiting.
    return supervise.supervised(serve, deliverer.stop)


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Not sys.exit: it would wait for pushes still under way (up to the ack
    # deadline); the emulator redelivers those when their lease expires.
    os._exit(code)
