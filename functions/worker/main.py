"""Entry point `worker` (CloudEvent, Pub/Sub push): decodes the event, hands it to the engine.

Returning acknowledges the message; raising (a step asked for a retry) makes
functions-framework answer 500, so Pub/Sub redelivers with backoff.
"""

import functions_framework
from cloudevents.http.event import CloudEvent

import shared.workflows  # noqa: F401 - registers the workflows with the engine
from shared.http import server
from shared.services import from_environment
from shared.worker import handle_pubsub

# Read and check every setting now: a bad value stops the instance at start,
# naming the variable, instead of failing requests or runs later.
from_environment()


def _hand_over() -> None:
    """SIGTERM (a deploy, a scale-in): hand this instance's runs to another at once."""
    from_environment().engine.hand_over()


# functions-framework builds its gunicorn server after importing this module.
server.install_worker(_hand_over)


@functions_framework.cloud_event
def worker(event: CloudEvent) -> None:
    # Both are validated by handle_pubsub: whatever they hold is answered 2xx
    # unless real work fails in a way a redelivery may fix.
    handle_pubsub(from_environment(), event.get("source"), event.data)
