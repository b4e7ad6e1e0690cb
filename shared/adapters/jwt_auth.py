"""Bearer-token authentication: who is calling, and on behalf of which tenant.

Tokens are issued by an external identity provider; we only ever hold its
public keys (a JWKS), so a leaked deployment cannot mint tokens. Every way a
token can be wrong becomes `Unauthenticated` with a short message a frontend
developer can act on; the token itself is never echoed or logged, because a
bearer token in a log line is a working credential for whoever reads it.

An identity-provider outage is different: the caller did nothing wrong and a
retry may succeed, so it surfaces as `AuthUnavailable` (answered 503).
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Annotated, Any

import jwt
from jwt import PyJWK, PyJWKClient, PyJWKSet
from jwt.exceptions import (
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAlgorithmError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidSignatureError,
    InvalidSubjectError,
    InvalidTokenError,
    MissingRequiredClaimError,
    PyJWKClientConnectionError,
    PyJWKClientError,
    PyJWKSetError,
    PyJWTError,
)
from pydantic import Field, Strict, TypeAdapter, ValidationError

from shared.config import AuthSettings
from shared.errors import AuthUnavailable, Unauthenticated
from shared.models.principal import Principal

logger = logging.getLogger(__name__)

# Asymmetric only: with a JWKS of public keys, accepting HS* would let anyone
# who has the (public) key material forge tokens, and `none` needs no key.
ALLOWED_ALGORITHMS: tuple[str, ...] = ("RS256", "ES256")
# Identity provider and our servers never agree on the time to the second.
CLOCK_SKEW_SECONDS = 30
# Real tokens are a few KiB; refusing huge headers early keeps a hostile caller
# from making us base64-decode and parse megabytes per request.
MAX_TOKEN_LENGTH = 16 * 1024
# A JWKS fetch sits on the request path; fail fast rather than hold the
# request for PyJWT's default 30 s.
JWKS_FETCH_TIMEOUT_SECONDS = 5.0
JWKS_CACHE_SECONDS = 300.0

NOT_CONFIGURED = "authentication is not configured"

# RFC 7519's NumericDate: a JSON number of seconds. PyJWT compares these
# claims after int(), so without this a token whose `exp` is the string
# "1795921579" (or `true`) would pass; a typed claim is checked, not coerced.
TIME_CLAIMS = ("exp", "nbf", "iat")
_NUMERIC_DATE: TypeAdapter[float] = TypeAdapter(
    Annotated[float, Strict(), Field(allow_inf_nan=False)]
)


class _KeySource:
    """Where verification keys come from; one implementation per configuration style."""

    def find(self, kid: str | None) -> PyJWK:
        raise NotImplementedError


def _pick(keys: list[PyJWK], kid: str | None) -> PyJWK | None:
    """Match by `kid`; a token without one is accepted only when the choice is unambiguous."""
    signing = [k for k in keys if k.public_key_use in ("sig", None)]
    if kid is None:
        return signing[0] if len(signing) == 1 else None
    for key in signing:
        if key.key_id == kid:
            return key
    return None


class _FileKeys(_KeySource):
    """A JWKS on disk (local development, or keys baked into the deployment).

    Read once: the file does not change under a running process, and reading
    it per request would put disk I/O on every call. A failed read is retried
    on the next request so that fixing the file needs no restart.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._keys: list[PyJWK] | None = None
        self._lock = threading.Lock()

    def _load(self) -> list[PyJWK]:
        with self._lock:
            if self._keys is None:
                try:
                    data = json.loads(self._path.read_text(encoding="utf-8"))
                    if not isinstance(data, dict):
                        raise PyJWKSetError("the file is not a JSON object")
                    self._keys = PyJWKSet.from_dict(data).keys
                except (OSError, ValueError, PyJWTError) as exc:
                    logger.error(
                        "AUTH_JWKS_FILE %s cannot be used (%s: %s); every request is rejected",
                        self._path,
                        type(exc).__name__,
                        exc,
                    )
                    raise Unauthenticated(NOT_CONFIGURED) from None
            return self._keys

    def find(self, kid: str | None) -> PyJWK:
        key = _pick(self._load(), kid)
        if key is None:
            raise Unauthenticated("token signing key is not known")
        return key


class _UrlKeys(_KeySource):
    """A JWKS endpoint, cached by PyJWKClient so that most requests make no fetch.

    An unknown `kid` triggers at most one re-fetch per cooldown (PyJWKClient's
    rule), which picks up a key rotation without letting a caller who sends
    random kids make us hammer the identity provider.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self._client = PyJWKClient(
            url,
            cache_jwk_set=True,
            lifespan=JWKS_CACHE_SECONDS,
            timeout=JWKS_FETCH_TIMEOUT_SECONDS,
        )

    def _unavailable(self, exc: Exception) -> AuthUnavailable:
        logger.warning("JWKS at %s cannot be fetched (%s: %s)", self._url, type(exc).__name__, exc)
        return AuthUnavailable("the identity provider's signing keys cannot be fetched")

    def find(self, kid: str | None) -> PyJWK:
        try:
            # Served from cache after the first success; any failure here means
            # the provider is unreachable or answering garbage, not a bad token.
            keys = self._client.get_signing_keys()
        # json.load inside PyJWKClient lets ValueError and mid-read OSError through.
        except (PyJWTError, ValueError, OSError) as exc:
            raise self._unavailable(exc) from exc
        key = _pick(keys, kid)
        if key is None and kid is not None:
            try:
                key = self._client.get_signing_key(kid)
            except (PyJWKClientConnectionError, PyJWKSetError, ValueError, OSError) as exc:
                raise self._unavailable(exc) from exc
            except PyJWKClientError:
                key = None
        if key is None:
            raise Unauthenticated("token signing key is not known")
        return key


class TokenVerifier:
    """Turns an `Authorization` header into a `Principal`, or says why it cannot.

    Built once per process: it owns the JWKS cache. Construction never raises,
    so a misconfigured deployment still starts, serves /healthz, and explains
    itself in the log instead of crash-looping.
    """

    def __init__(self, settings: AuthSettings) -> None:
        self._settings = settings
        self._config_problem: str | None = None
        self._keys: _KeySource | None = None
        if settings.jwks_url and settings.jwks_file:
            self._config_problem = "set only one of AUTH_JWKS_URL and AUTH_JWKS_FILE"
        elif not settings.jwks_url and not settings.jwks_file:
            self._config_problem = "neither AUTH_JWKS_URL nor AUTH_JWKS_FILE is set"
        elif not settings.issuer:
            # Without an expected issuer any token signed by these keys for any
            # other application would be accepted.
            self._config_problem = "AUTH_ISSUER is not set"
        elif settings.jwks_url:
            try:
                self._keys = _UrlKeys(settings.jwks_url)
            except PyJWKClientError as exc:
                self._config_problem = f"AUTH_JWKS_URL is not usable: {exc}"
        elif settings.jwks_file:
            self._keys = _FileKeys(Path(settings.jwks_file))
        if self._config_problem is not None:
            logger.error("authentication is misconfigured: %s", self._config_problem)

    def verify(self, authorization_header: str | None) -> Principal:
        """Raise `Unauthenticated` (caller's fault) or `AuthUnavailable` (ours)."""
        if self._keys is None:
            # Logged per request as well: the operator may only look at the
            # log after users report 401s, long after the startup line.
            logger.error(
                "request rejected, authentication is misconfigured: %s", self._config_problem
            )
            raise Unauthenticated(NOT_CONFIGURED)
        token = _bearer_token(authorization_header)
        header = _unverified_header(token)
        key = self._keys.find(header["kid"])
        claims = self._decode(token, key)
        return Principal(
            user_id=_string_claim(claims, "sub"),
            tenant_id=_string_claim(claims, self._settings.tenant_claim),
        )

    def _decode(self, token: str, key: PyJWK) -> dict[str, Any]:
        audience = self._settings.audience
        required = ["exp", "iss", "sub"] + (["aud"] if audience else [])
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=list(ALLOWED_ALGORITHMS),
                audience=audience,
                issuer=self._settings.issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": required, "verify_aud": bool(audience)},
            )
        except InvalidSignatureError:
            raise Unauthenticated("token signature is invalid") from None
        except InvalidAlgorithmError:
            raise Unauthenticated("token algorithm is not accepted") from None
        except ExpiredSignatureError:
            raise Unauthenticated("token expired") from None
        except ImmatureSignatureError:
            raise Unauthenticated("token is not yet valid") from None
        except InvalidAudienceError:
            raise Unauthenticated("token audience is not accepted") from None
        except InvalidIssuerError:
            raise Unauthenticated("token issuer is not accepted") from None
        except InvalidSubjectError:
            raise Unauthenticated("token has no sub claim") from None
        except MissingRequiredClaimError as exc:
            raise Unauthenticated(f"token has no {exc.claim} claim") from None
        except (InvalidTokenError, PyJWTError):
            raise Unauthenticated("token is invalid") from None
        for name in TIME_CLAIMS:
            if name in claims:
                try:
                    _NUMERIC_DATE.validate_python(claims[name])
                except ValidationError:
                    raise Unauthenticated(f"token claim {name} must be a number") from None
        return claims


def _bearer_token(authorization_header: str | None) -> str:
    parts = (authorization_header or "").split()
    if not parts:
        raise Unauthenticated("missing bearer token")
    if parts[0].lower() != "bearer":
        raise Unauthenticated("authorization scheme must be Bearer")
    if len(parts) == 1:
        raise Unauthenticated("missing bearer token")
    if len(parts) > 2 or len(parts[1]) > MAX_TOKEN_LENGTH:
        raise Unauthenticated("token is malformed")
    return parts[1]


def _unverified_header(token: str) -> dict[str, str | None]:
    """Read `alg` and `kid` before verifying, only to choose the key.

    The algorithm allow-list is checked here too so that `none`/HS256 tokens
    are refused with a clear message before any key lookup (and fetch).
    """
    try:
        header = jwt.get_unverified_header(token)
    except PyJWTError:
        raise Unauthenticated("token is malformed") from None
    alg = header.get("alg")
    if alg not in ALLOWED_ALGORITHMS:
        raise Unauthenticated("token algorithm is not accepted")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise Unauthenticated("token is malformed")
    return {"alg": alg, "kid": kid}


def _string_claim(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value.strip():
        raise Unauthenticated(f"token has no {name} claim")
    return value
