"""Errors that cross module boundaries, each mapped to exactly one outcome.

The HTTP layer turns `ClientError` subclasses into 4xx JSON; the engine turns
`NonRetriableError` into a FAILED run at once and any other exception into a
Pub/Sub redelivery. Messages are written for a person reading the run's
timeline, so they never carry secrets or stack traces.
"""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """The caller's mistake: answered with `status` and a JSON error body."""

    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(ClientError):
    status = 422
    code = "invalid_input"


class MalformedRequest(ClientError):
    status = 400
    code = "malformed_request"


class Unauthenticated(ClientError):
    status = 401
    code = "unauthenticated"


class NotFound(ClientError):
    status = 404
    code = "not_found"


class Conflict(ClientError):
    status = 409
    code = "conflict"


class MethodNotAllowed(ClientError):
    status = 405
    code = "method_not_allowed"


class NonRetriableError(Exception):
    """A step failure that another attempt cannot fix (bad input, refusal, unmeetable schema).

    The engine fails the run immediately and records this message as its error.
    """


class TransientError(Exception):
    """A step failure worth another attempt (rate limit, 5xx, timeout).

    Raising any other exception is treated the same way; this class exists so
    that adapters can say so explicitly and give a readable message.
    """
