"""Handing a stopping instance's runs over: Cloud Run's SIGTERM, then about 10 s.

Cloud Run stops instances on every deploy and scale-in. Without this, a run
in flight on a stopped instance waited for its lease to expire before anyone
continued it. Here every delivery runs in its own thread while the push's
request thread waits for it, so the push can be answered without waiting
for the step (a model call of a minute, say). On `hand_over` (the worker's
SIGTERM):

1. no delivery starts any more: one that arrives is published again for
   another instance and acknowledged (`pass_on`);
2. each delivery in flight is handed over (`HandOver.hand_over`): under its
   commit lock, so a commit under way lands first, its lease is released
   with the in-flight steps' attempts given back (a deploy is not the
   step's failure), and every later write of it refuses (`Stop`); the step
   still running is abandoned, its result never lands;
3. the run is published, and only then is its push answered 2xx
   (`HANDED_OVER`): the republished message is the one copy that
   continues. A push that still comes back (its 2xx lost with the instance)
   is harmless: the claim is conditional on the run's version and a live
   lease of another is left alone, so two deliveries never both commit a
   step (docs/architecture.md, invariants).

A publish that fails answers the push 500 instead: Pub/Sub redelivers it.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from shared.engine.delivery import Outcome
from shared.engine.store import EventPublisher
from shared.errors import RetryLater

log = logging.getLogger(__name__)

# Releases and publishes made at once when handing over (each is one round trip).
HANDOVER_THREADS = 16


class HandOver(Protocol):
    """A delivery in flight, as the handover sees it (`runner._Execution`)."""

    run_id: str
    workflow: str

    def hand_over(self) -> bool:
        """Stop writing and release the run; whether to publish it."""


@dataclass(frozen=True)
class HandoverReport:
    handed_over: int  # runs released (or never claimed) and published
    left: int  # deliveries that had ended, or whose run was no longer theirs
    failed: int  # publishes that failed: those pushes are answered 500
    seconds: float


class _Delivery:
    """One delivery's thread and the answer its push gets, decided once."""

    def __init__(self, execution: HandOver) -> None:
        self.execution = execution
        self.lock = threading.Lock()
        self.answered = threading.Event()
        self.result: Outcome | BaseException | None = None

    def settle(self, result: Outcome | BaseException) -> bool:
        """Decide the push's answer, if nothing decided it yet; whether this did."""
        with self.lock:
            if self.result is not None:
                return False
            self.result = result
            return True


class Handover:
    """The process's deliveries in flight; hands them all over when the instance stops."""

    def __init__(self, publisher: EventPublisher) -> None:
        self.publisher = publisher
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._deliveries: set[_Delivery] = set()

    def run(self, execution: HandOver, work: Callable[[], Outcome]) -> Outcome:
        """Run `work` (the delivery) in its own thread; its outcome, or HANDED_OVER.

        Raises what `work` raised (RetryLater: the push is answered 500).
        """
        delivery = _Delivery(execution)
        with self._lock:
            if self.stopping.is_set():
                return self.pass_on(execution.run_id, execution.workflow)
            self._deliveries.add(delivery)
        context = contextvars.copy_context()  # log fields (run id) and trace context follow

        def target() -> None:
            result: Outcome | BaseException
            try:
                result = context.run(work)
            except BaseException as exc:  # handed to the request thread, which raises it
                result = exc
            if delivery.settle(result):
                delivery.answered.set()

        threading.Thread(target=target, name="delivery", daemon=True).start()
        try:
            delivery.answered.wait()
        finally:
            with self._lock:
                self._deliveries.discard(delivery)
        result = delivery.result
        if isinstance(result, BaseException):
            raise result
        assert result is not None
        return result

    def pass_on(self, run_id: str, workflow: str) -> Outcome:
        """A delivery that arrived while stopping: published again for another instance."""
        try:
            self.publisher.publish_run(run_id, workflow)
        except Exception as exc:
            raise RetryLater("stopping, and the run could not be published again") from exc
        log.info("instance stopping: delivery passed on", extra={"runId": run_id})
        return Outcome.HANDED_OVER

    def hand_over(self) -> HandoverReport:
        """Stop starting deliveries, release and publish every one in flight, answer their pushes.

        Idempotent; returns once every push in flight has its answer.
        """
        started = time.monotonic()
        with self._lock:
            self.stopping.set()
            deliveries = list(self._deliveries)
        counts = {"handed_over": 0, "left": 0, "failed": 0}
        counted = threading.Lock()

        def one(delivery: _Delivery) -> None:
            outcome = self._hand_over(delivery)
            with counted:
                counts[outcome] += 1

        if deliveries:
            workers = min(len(deliveries), HANDOVER_THREADS)
            with ThreadPoolExecutor(workers, thread_name_prefix="handover") as pool:
                list(pool.map(one, deliveries))
        report = HandoverReport(seconds=time.monotonic() - started, **counts)
        log.warning(
            "instance stopping: runs handed over",
            extra={
                "handedOver": report.handed_over,
                "left": report.left,
                "publishFailed": report.failed,
                "durationMs": int(report.seconds * 1000),
            },
        )
        return report

    def _hand_over(self, delivery: _Delivery) -> str:
        # Decided before releasing: whatever the delivery's thread does from
        # now on (a refused commit, a retry), its push is answered by us.
        if not delivery.settle(Outcome.HANDED_OVER):
            return "left"  # it ended on its own; its answer stands
        execution = delivery.execution
        try:
            if not execution.hand_over():
                delivery.result = Outcome.ALREADY_FINISHED
                return "left"
            self.publisher.publish_run(execution.run_id, execution.workflow)
            log.info("run handed over", extra={"runId": execution.run_id})
            return "handed_over"
        except Exception as exc:
            log.exception(
                "run not handed over; its push is answered 500", extra={"runId": execution.run_id}
            )
            delivery.result = RetryLater(f"instance stopping; the run was not published: {exc}")
            return "failed"
        finally:
            delivery.answered.set()
