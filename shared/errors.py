"""Every error the project raises on purpose, each declaring what it becomes.

One base class, `GenjobsError`, and one attribute, `becomes`, so the mapping
from an error to its outcome is read here rather than rediscovered at each
`except`: the HTTP layer answers `ClientError`s with their 4xx JSON body and
`AuthUnavailable` with 503; the engine fails a run at once on
`NonRetriableError`, retries a step on anything else, and answers a delivery
with `RetryLater` so Pub/Sub redelivers. Messages are written for a person
reading a run's timeline or an API answer, so they never carry secrets or
stack traces (`describe` relies on that).
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any, ClassVar

from shared.redaction import redact


class Becomes(StrEnum):
    """What an error turns into where it is finally handled."""

    CLIENT_ERROR = "a 4xx JSON answer with the error's status and code"
    UNAVAILABLE = "a 503 JSON answer with Retry-After"
    RUN_FAILED = "the run ends FAILED with this message, without another attempt"
    STEP_RETRIED = "the step attempt is recorded RETRYING and Pub/Sub redelivers the run"
    RUN_WAITS = "the step's attempt is given back and the run is handed back until the wait is over"
    REDELIVERY = "the worker answers 500, so Pub/Sub redelivers the message with backoff"
    RELOAD = "the caller reloads the run and decides again (never leaves the engine's callers)"
    STARTUP_FAILURE = "the function instance refuses to start, naming the setting"


class GenjobsError(Exception):
    """Base of the project's errors. `str(error)` is safe to show to a person."""

    becomes: ClassVar[Becomes]


# -- the caller's mistakes (HTTP) ------------------------------------------------


class ClientError(GenjobsError):
    """The caller's mistake: answered with `status` and a JSON error body."""

    becomes = Becomes.CLIENT_ERROR
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


class PayloadTooLarge(ClientError):
    status = 413
    code = "payload_too_large"


class NotFound(ClientError):
    status = 404
    code = "not_found"


class Conflict(ClientError):
    status = 409
    code = "conflict"


class MethodNotAllowed(ClientError):
    status = 405
    code = "method_not_allowed"


class TooManyRequests(ClientError):
    """A request over a limit (open streams, creates per minute): 429 with `Retry-After`.

    `retry_after_seconds` is when trying again may succeed; the HTTP layer
    sends it as the `Retry-After` header, so a client backs off instead of
    hammering.
    """

    status = 429
    code = "rate_limited"

    def __init__(
        self,
        message: str,
        *,
        retry_after_seconds: int,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.retry_after_seconds = max(1, retry_after_seconds)


class AlreadyFinished(Conflict):
    """Cancelling a run that already ended."""

    def __init__(self, run_status: str) -> None:
        super().__init__(f"run already finished with status {run_status}")
        self.run_status = run_status


class NotResumable(Conflict):
    """Resuming a run that is not FAILED or CANCELLED."""

    def __init__(self, run_status: str) -> None:
        super().__init__(f"only a FAILED or CANCELLED run can be resumed; this one is {run_status}")
        self.run_status = run_status


class AdmissionRefused(TooManyRequests):
    """A create the tenant's admission limits refuse now: 429 with `Retry-After`.

    Raised before anything is written. A trigger event refused for its rate
    is redelivered later (the worker nacks it); one refused for a daily quota
    is rejected (its result says why).
    """

    def __init__(self, message: str, *, retry_after_seconds: float) -> None:
        super().__init__(message, retry_after_seconds=math.ceil(retry_after_seconds))


class TenantRateLimited(AdmissionRefused):
    """The tenant created TENANT_CREATES_PER_MINUTE runs in the last minute."""

    code = "rate_limited"


class TenantQuotaExceeded(AdmissionRefused):
    """The tenant's usage today (UTC) is over TENANT_DAILY_TOKEN_LIMIT or _COST_LIMIT_USD."""

    code = "quota_exceeded"


class AuthUnavailable(GenjobsError):
    """The identity provider's keys cannot be fetched, so no token can be judged.

    Kept apart from `Unauthenticated` so that an outage answers 503 (retry
    later) instead of telling a correctly signed-in user that their token is bad.
    """

    becomes = Becomes.UNAVAILABLE


# -- step outcomes (engine) --------------------------------------------------------


class NonRetriableError(GenjobsError):
    """A step failure that another attempt cannot fix (bad input, refusal, unmeetable schema).

    The engine fails the run immediately and records this message as its error.
    """

    becomes = Becomes.RUN_FAILED


class TransientError(GenjobsError):
    """A step failure worth another attempt (rate limit, 5xx, timeout).

    Raising any other exception is treated the same way; this class exists so
    that adapters can say so explicitly and give a readable message.
    """

    becomes = Becomes.STEP_RETRIED


class RateLimited(TransientError):
    """A call must wait for a rate limit: the provider's (HTTP 429) or our own LLM budget.

    Waiting is not failing: the engine gives the step's attempt back and
    hands the run back until `wait_seconds` have passed, so a long rate
    limit never uses up a step's attempts (only the run's deadline bounds it).
    """

    def __init__(self, message: str, wait_seconds: float) -> None:
        super().__init__(message)
        self.wait_seconds = max(0.0, wait_seconds)

    becomes = Becomes.RUN_WAITS


class UndeclaredInput(NonRetriableError):
    """A step read a field of the run's input its declaration does not name (`inputs=`).

    A bug in the workflow, not in the run: another attempt would read it
    again, and a rerun relies on the declaration being true.
    """

    def __init__(self, field: str, declared: tuple[str, ...]) -> None:
        super().__init__(
            f"the step read input field {field!r}, which it does not declare "
            f"(inputs={list(declared)})"
        )


class OutputTooLarge(NonRetriableError):
    """A step returned more than any checkpoint can hold (Firestore's 1 MiB document limit).

    Raised before the commit, so nothing is written; another attempt would
    pay for another answer and meet the same limit, so the run fails at once.
    """

    def __init__(self, step_id: str, size: int, limit: int) -> None:
        super().__init__(
            f"step {step_id} returned an output of {size:,} bytes, more than the "
            f"{limit:,} bytes a checkpoint can hold"
        )
        self.size = size
        self.limit = limit


class CommitTooLarge(NonRetriableError):
    """A step's checkpoint and writes together are more than one Firestore commit carries."""

    def __init__(self, step_id: str, size: int, limit: int) -> None:
        super().__init__(
            f"step {step_id} would commit {size:,} bytes (its output and the documents it "
            f"writes), more than the {limit:,} bytes one commit can carry"
        )
        self.size = size
        self.limit = limit


class CommitRejected(NonRetriableError):
    """The store refused a commit as invalid (Firestore's InvalidArgument): it can never land."""


class CheckpointFailed(GenjobsError):
    """Committing a step's checkpoint failed after its body returned.

    It is that step's failure, recorded against it as its attempt with the
    store's own message: retried like any step failure, unless the store
    said the commit can never land (`CommitRejected`), which fails the run.
    """

    becomes = Becomes.STEP_RETRIED

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"could not commit the step's checkpoint: {describe(cause)}")
        self.retriable = not isinstance(cause, NonRetriableError)


class SchemaExampleError(GenjobsError, ValueError):
    """A JSON schema that placeholder content cannot satisfy (the offline model's problem)."""

    becomes = Becomes.RUN_FAILED


class RetryLater(GenjobsError):
    """A delivery ended in a way another delivery may fix: nack it."""

    becomes = Becomes.REDELIVERY


# -- the run store's preconditions ---------------------------------------------------


class StaleRun(GenjobsError):
    """The run document changed since the version the caller holds."""

    becomes = Becomes.RELOAD


class RunExists(GenjobsError):
    """A create found the run or one of its documents already there.

    The create routes turn it into the existing session (same Idempotency-Key
    and body) or a 409.
    """

    becomes = Becomes.RELOAD


# -- configuration -------------------------------------------------------------------


class InvalidSettings(GenjobsError, ValueError):
    """One or more environment variables hold values the functions cannot run with."""

    becomes = Becomes.STARTUP_FAILURE


def describe(exc: BaseException) -> str:
    """A one-line error for a person reading the timeline.

    Our own errors are written to be read as they are; anything else (a
    library's exception) is prefixed with its type, which is often the only
    clue its message lacks.
    """
    text = str(exc) if isinstance(exc, GenjobsError) else f"{type(exc).__name__}: {exc}"
    # A library's message may quote a request's credentials; runs record this text.
    return redact(text.strip())[:500] or type(exc).__name__
