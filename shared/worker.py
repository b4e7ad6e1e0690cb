"""The worker's side of Pub/Sub: validate a delivery and hand it to the engine.

Four kinds of delivery arrive at the worker: a run to execute, the sweep
tick (Cloud Scheduler), a trigger event from the triggers topic (a backend
starting runs, `shared.triggers`), and a run's message or an event that
Pub/Sub dead-lettered after exhausting its delivery attempts. Everything read from a delivery is
validated first (`shared.models.messages.Delivery`): a malformed one can
never succeed, so it is logged with what was wrong (a log-based metric
counts those lines, infra/monitoring.tf) and acknowledged. The worker
answers 500, so that Pub/Sub delivers again, only when real work failed in
a way another delivery may fix (a step asked for a retry, Firestore could
not be reached).
"""

from __future__ import annotations

import logging

from shared import tracing
from shared.models.messages import (
    DEAD_LETTER_COUNT_ATTRIBUTE,
    Delivery,
    MalformedDelivery,
    topic_of,
)
from shared.services import Services
from shared.tracing import TRACEPARENT, TraceContext, parse_traceparent
from shared.triggers import handle_dead_lettered_trigger, handle_trigger, is_trigger

log = logging.getLogger(__name__)

MALFORMED = "malformed Pub/Sub delivery acknowledged and dropped"


def handle_pubsub(services: Services, source: object, envelope: object) -> str:
    """Process one Pub/Sub delivery; returns what was done (for logs and tests).

    Raises `RetryLater` when a step failed and Pub/Sub should redeliver.
    """
    try:
        with tracing.continued(trace_of(envelope)):
            return _handle(services, source, envelope)
    finally:
        # The instance may get no CPU once this delivery is answered: its
        # spans leave now (a no-op unless TRACE_EXPORTER exports).
        tracing.flush()


def trace_of(envelope: object) -> TraceContext | None:
    """The trace context the message's publisher put in its attributes, if valid."""
    message = envelope.get("message") if isinstance(envelope, dict) else None
    attributes = message.get("attributes") if isinstance(message, dict) else None
    value = attributes.get(TRACEPARENT) if isinstance(attributes, dict) else None
    return parse_traceparent(value)


def _handle(services: Services, source: object, envelope: object) -> str:
    topic = topic_of(source)
    settings = services.settings
    if topic and topic == settings.triggers_topic:
        # The runs it starts are created in this span's trace (the
        # publisher's, when its message carried a `traceparent`).
        with tracing.span(
            "trigger event",
            kind="consumer",
            attributes={"messaging.system": "gcp_pubsub", "messaging.operation.type": "process"},
        ):
            return handle_trigger(services, envelope)
    if topic and topic == settings.dead_letter_topic and is_trigger(envelope):
        return handle_dead_lettered_trigger(services, envelope, _dead_letter_count(envelope))
    try:
        delivery = Delivery.parse(source, envelope)
    except MalformedDelivery as bad:
        log.warning(MALFORMED, extra={"problem": bad.problem, "topic": topic_of(source)})
        return "malformed"
    message = delivery.message
    dead_lettered = (
        delivery.topic == services.settings.dead_letter_topic
        or delivery.dead_letter_count is not None
    )
    if message.type == "sweep":
        if dead_lettered:
            return "ignored"
        with tracing.span("sweep", kind="consumer"):
            report = services.engine.sweep()
        return f"swept redriven={report.redriven} failed={report.failed} results={report.results}"
    assert message.run_id is not None  # Delivery.parse refuses a run message without one
    if dead_lettered:
        failed = services.engine.dead_lettered(message.run_id, delivery.dead_letter_count or 0)
        return "dead-lettered" if failed else "dead-letter-ignored"
    return services.engine.deliver(message.run_id, delivery.trace).value


def _dead_letter_count(envelope: object) -> int:
    """How many deliveries Pub/Sub made before dead-lettering (0 when it does not say)."""
    message = envelope.get("message") if isinstance(envelope, dict) else None
    attributes = message.get("attributes") if isinstance(message, dict) else None
    count = attributes.get(DEAD_LETTER_COUNT_ATTRIBUTE) if isinstance(attributes, dict) else None
    return int(count) if isinstance(count, str) and count.isdigit() and len(count) < 10 else 0
