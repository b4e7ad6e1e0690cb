"""The worker's side of Pub/Sub: decode a delivery and hand it to the engine.

Three kinds of delivery arrive at the worker: a run to execute, the sweep
tick (Cloud Scheduler), and a run's message that Pub/Sub dead-lettered after
exhausting its delivery attempts. A message that cannot be decoded is logged
and acknowledged: redelivering it would fail the same way forever.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any

from pydantic import ValidationError

from shared.models import paths
from shared.models.messages import RunMessage
from shared.services import Services

log = logging.getLogger(__name__)

DEAD_LETTER_COUNT_ATTRIBUTE = "CloudPubSubDeadLetterSourceDeliveryCount"


def _topic_of(source: str) -> str:
    # "//pubsub.googleapis.com/projects/<p>/topics/<topic>"
    marker = "/topics/"
    return source.rsplit(marker, 1)[1] if marker in source else ""


def handle_pubsub(services: Services, source: str, envelope: dict[str, Any]) -> str:
    """Process one Pub/Sub delivery; returns what was done (for logs and tests).

    Raises `RetryLater` when a step failed and Pub/Sub should redeliver.
    """
    message = envelope.get("message") or {}
    attributes: dict[str, str] = message.get("attributes") or {}
    try:
        raw = base64.b64decode(message.get("data") or "", validate=True)
        decoded = RunMessage.model_validate(json.loads(raw or b"{}"))
    except (binascii.Error, ValueError, ValidationError):
        log.error("undecodable Pub/Sub message acknowledged and dropped")
        return "malformed"

    dead_lettered = (
        _topic_of(source) == services.settings.dead_letter_topic
        or DEAD_LETTER_COUNT_ATTRIBUTE in attributes
    )
    if decoded.type == "sweep":
        if dead_lettered:
            return "ignored"
        report = services.engine.sweep()
        return f"swept redriven={report.redriven} failed={report.failed} results={report.results}"
    if not decoded.run_id or not paths.is_document_id(decoded.run_id):
        # Firestore rejects ids such as "__x__" or "a/b" with an error, which
        # would fail this delivery (and its dead letter) forever.
        log.error("run message without a valid runId acknowledged and dropped")
        return "malformed"
    if dead_lettered:
        count = int(attributes.get(DEAD_LETTER_COUNT_ATTRIBUTE, "0") or 0)
        failed = services.engine.dead_lettered(decoded.run_id, count)
        return "dead-lettered" if failed else "dead-letter-ignored"
    return services.engine.deliver(decoded.run_id).value
