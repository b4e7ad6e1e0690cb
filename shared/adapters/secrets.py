"""Read secrets (the OpenAI key) from Secret Manager, once per process.

Keys live only in Secret Manager: never in the environment of a deployed
function, in Terraform or in the repository. The function's configuration
names a secret *version*; the value is fetched on first use and kept in
memory, so a warm instance does not pay a Secret Manager round trip (and
quota) on every LLM call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from google.api_core import exceptions as google_exceptions
from google.cloud.secretmanager import SecretManagerServiceClient

from shared.errors import NonRetriableError, TransientError

__all__ = ["SecretReader"]

ClientFactory = Callable[[], SecretManagerServiceClient]


class SecretReader:
    """Fetches and caches secret version payloads by resource name.

    Names look like `projects/p/secrets/s/versions/latest`. Thread-safe: of
    concurrent first calls for a name, exactly one reaches the network.
    Failures are not cached, so a later call tries again.

    `client_factory` builds the Secret Manager client on first use (tests
    point a REST client at a local server); by default the client uses the
    environment's credentials. The client's own retries are disabled:
    retrying with backoff is the engine's job.
    """

    def __init__(
        self,
        client_factory: ClientFactory | None = None,
        *,
        timeout_seconds: float = 30.0,
    ) -> None:
        self._client_factory: ClientFactory = client_factory or SecretManagerServiceClient
        self._timeout_seconds = timeout_seconds
        self._client: SecretManagerServiceClient | None = None
        self._values: dict[str, str] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        # Names only: the cached values must never appear in a log line.
        return f"SecretReader(cached={sorted(self._values)!r})"

    def read(self, name: str) -> str:
        """Return the secret's payload as text, without surrounding whitespace.

        Raises NonRetriableError when the secret is missing, disabled or not
        readable by this service account (a deployment fix is needed), and
        TransientError when Secret Manager is unavailable.
        """
        with self._lock:
            cached = self._values.get(name)
            if cached is not None:
                return cached
            value = self._fetch(name)
            self._values[name] = value
            return value

    def _fetch(self, name: str) -> str:
        if self._client is None:
            self._client = self._client_factory()
        try:
            response = self._client.access_secret_version(
                name=name, retry=None, timeout=self._timeout_seconds
            )
        except google_exceptions.NotFound:
            raise NonRetriableError(f"Secret {name} does not exist") from None
        except google_exceptions.PermissionDenied:
            raise NonRetriableError(
                f"Permission denied reading secret {name}: grant the service account "
                "roles/secretmanager.secretAccessor on it"
            ) from None
        except google_exceptions.FailedPrecondition:
            raise NonRetriableError(f"Secret {name} is disabled or destroyed") from None
        except google_exceptions.InvalidArgument:
            raise NonRetriableError(f"Secret name {name} is not a valid version name") from None
        except google_exceptions.Unauthenticated:
            raise NonRetriableError(
                f"Could not authenticate to Secret Manager to read {name}"
            ) from None
        except (
            google_exceptions.ServiceUnavailable,
            google_exceptions.DeadlineExceeded,
            google_exceptions.TooManyRequests,
            google_exceptions.ResourceExhausted,
            google_exceptions.InternalServerError,
        ) as exc:
            raise TransientError(
                f"Secret Manager is unavailable reading {name} ({type(exc).__name__})"
            ) from None
        except google_exceptions.RetryError:
            raise TransientError(f"Secret Manager did not answer in time reading {name}") from None
        try:
            value = response.payload.data.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise NonRetriableError(f"Secret {name} is not UTF-8 text") from None
        if not value:
            raise NonRetriableError(f"Secret {name} is empty")
        return value
