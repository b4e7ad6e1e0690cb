"""The worker's side of Pub/Sub: validate a delivery and hand it to the engine.

Three kinds of delivery arrive at the worker: a run to execute, the sweep
tick (Cloud Scheduler), and a run's message that Pub/Sub dead-lettered after
exhausting its delivery attempts. Everything read from a delivery is
validated first (`shared.models.messages.Delivery`): a malformed one can
never succeed, so it is logged with what was wrong (a log-based metric
counts those lines, infra/monitoring.tf) and acknowledged. The worker
answers 500, so that Pub/Sub delivers again, only when real work failed in
a way another delivery may fix (a step asked for a retry, Firestore could
not be reached).
"""

from __future__ import annotations

import logging

from shared.models.messages import Delivery, MalformedDelivery, topic_of
from shared.services import Services

log = logging.getLogger(__name__)

MALFORMED = "malformed Pub/Sub delivery acknowledged and dropped"


def handle_pubsub(services: Services, source: object, envelope: object) -> str:
    """Process one Pub/Sub delivery; returns what was done (for logs and tests).

    Raises `RetryLater` when a step failed and Pub/Sub should redeliver.
    """
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
        report = services.engine.sweep()
        return f"swept redriven={report.redriven} failed={report.failed} results={report.results}"
    assert message.run_id is not None  # Delivery.parse refuses a run message without one
    if dead_lettered:
        failed = services.engine.dead_lettered(message.run_id, delivery.dead_letter_count or 0)
        return "dead-lettered" if failed else "dead-letter-ignored"
    return services.engine.deliver(message.run_id).value
