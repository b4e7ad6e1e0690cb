"""Publishing run events and results to Pub/Sub (the wire format: `shared.models.messages`)."""

from __future__ import annotations

import json
import threading
from typing import Any

from pydantic import BaseModel

from shared import tracing
from shared.models.messages import RunMessage

# A create waits at most this long for Pub/Sub; past it the run stays QUEUED
# and the sweep publishes it (the caller still gets its 202).
PUBLISH_TIMEOUT_SECONDS = 10.0
# A result's fields that are also its message's attributes (for subscription filters).
RESULT_ATTRIBUTES = ("runId", "workflow", "tenant", "status", "eventId", "eventName")


class PubSubPublisher:
    """Publishes to the events topic; the client is created on first use.

    The Pub/Sub client is slow to import and build, and the api only needs it
    after a create has been committed, so it stays off the cold-start path.
    """

    def __init__(self, project: str, topic: str) -> None:
        self._project = project
        self._topic = topic
        self._client: Any = None
        self._lock = threading.Lock()

    def _publisher(self) -> Any:
        with self._lock:
            if self._client is None:
                from google.cloud.pubsub_v1 import PublisherClient
                from google.cloud.pubsub_v1.types import BatchSettings

                # Every publish here is waited for (a create answers after
                # it), so a batch only adds its wait: the default holds each
                # message 10 ms for company (15 ms a publish on the emulator
                # instead of 4).
                self._client = PublisherClient(batch_settings=BatchSettings(max_messages=1))
            return self._client

    @property
    def topic_path(self) -> str:
        return f"projects/{self._project}/topics/{self._topic}"

    def _publish(self, message: RunMessage, attributes: dict[str, str]) -> None:
        # The current span's context travels with the message: the worker's
        # delivery continues the trace (`shared.worker`).
        context = tracing.current()
        if context is not None:
            attributes = {**attributes, tracing.TRACEPARENT: context.traceparent}
        data = json.dumps(message.model_dump(by_alias=True, exclude_none=True)).encode()
        future = self._publisher().publish(self.topic_path, data, **attributes)
        future.result(timeout=PUBLISH_TIMEOUT_SECONDS)

    def publish_run(self, run_id: str, workflow: str) -> None:
        self._publish(
            RunMessage(type="run", run_id=run_id),
            {"type": "run", "event": workflow, "runId": run_id},
        )

    def publish_result(self, result: BaseModel) -> None:
        """A run's end or a rejected trigger event, on the results topic.

        This publisher must be built for that topic. The fields a consumer's
        subscription may filter on are also attributes.
        """
        data = result.model_dump_json(by_alias=True, exclude_none=True).encode()
        attributes = {
            key: str(value)
            for key, value in result.model_dump(by_alias=True, exclude_none=True).items()
            if key in RESULT_ATTRIBUTES
        }
        context = tracing.current()
        if context is not None:
            # A consumer can continue the run's trace from its result.
            attributes[tracing.TRACEPARENT] = context.traceparent
        future = self._publisher().publish(self.topic_path, data, **attributes)
        future.result(timeout=PUBLISH_TIMEOUT_SECONDS)

    def publish_sweep(self) -> None:
        self._publish(RunMessage(type="sweep"), {"type": "sweep"})
