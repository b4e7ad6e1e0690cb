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

import google.auth.exceptions
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
        try:
            if self._client is None:
                self._client = self._client_factory()
            response = self._client.access_secret_version(
                name=name, retry=None, timeout=self._timeout_seconds
            )
        # The REST transport raises the HTTP-status classes (Forbidden), gRPC
        # their subclasses (PermissionDenied); catching the parents covers both.
        except google_exceptions.NotFound as exc:
            raise NonRetriableError(f"Secret {name} does not exist") from exc
        except google_exceptions.Forbidden as exc:
            raise NonRetriableError(
                f"Permission denied reading secret {name}: grant the service account "
                "roles/secretmanager.secretAccessor on it"
            ) from exc
        except google_exceptions.Unauthorized as exc:
            raise NonRetriableError(
                f"Secret Manager rejected this service's credentials reading {name}"
            ) from exc
        except google_exceptions.FailedPrecondition as exc:
            raise NonRetriableError(f"Secret {name} is disabled or destroyed") from exc
        except google_exceptions.BadRequest as exc:
            raise NonRetriableError(f"Secret name {name} is not a valid version name") from exc
        except google.auth.exceptions.DefaultCredentialsError as exc:
            raise NonRetriableError(
                f"No Google credentials available to read secret {name}"
            ) from exc
        except (
            google_exceptions.ServerError,
            google_exceptions.TooManyRequests,
            google_exceptions.RetryError,
            google.auth.exceptions.TransportError,
        ) as exc:
            raise TransientError(
                f"Secret Manager is unavailable reading {name} ({type(exc).__name__})"
            ) from exc
        except OSError as exc:
            # Connection refused/reset and timeouts of the HTTP or gRPC stack.
            raise TransientError(
                f"Could not reach Secret Manager reading {name} ({type(exc).__name__})"
            ) from exc
        try:
            value = response.payload.data.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            raise NonRetriableError(f"Secret {name} is not UTF-8 text") from exc
        if not value:
            raise NonRetriableError(f"Secret {name} is empty")
        return value
