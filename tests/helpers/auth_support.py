"""Test helpers for bearer-token auth: keys, JWKS, tokens and a local JWKS server.

Keys are generated at test time (never committed). Typical use:

    key = rsa_key()
    path = write_jwks(tmp_path / "jwks.json", key)
    verifier = TokenVerifier(AuthSettings(jwks_file=str(path), issuer=ISSUER, audience=AUDIENCE))
    header = bearer(mint(key, claims(sub="u1", org_id="t1")))

`claims()` returns a valid payload for ISSUER/AUDIENCE; pass `name=None` to
drop a claim. `mint()` signs anything you give it, so tests can also build
tokens the verifier must refuse.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from devtools.local_server import LocalServer, QuietHandler, send_json

ISSUER = "https://issuer.test.genjobs.dev"
AUDIENCE = "genjobs-test"


@dataclass(frozen=True)
class SigningKey:
    """A private key plus the `kid`/`alg` a JWKS would publish for it."""

    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    kid: str
    alg: str

    def public_jwk(self) -> dict[str, Any]:
        public = self.private_key.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            jwk: dict[str, Any] = RSAAlgorithm.to_jwk(public, as_dict=True)
        else:
            jwk = ECAlgorithm.to_jwk(public, as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def rsa_key(kid: str = "rsa-1") -> SigningKey:
    """A fresh RSA-2048 key for RS256."""
    return SigningKey(rsa.generate_private_key(public_exponent=65537, key_size=2048), kid, "RS256")


def ec_key(kid: str = "ec-1") -> SigningKey:
    """A fresh P-256 key for ES256."""
    return SigningKey(ec.generate_private_key(ec.SECP256R1()), kid, "ES256")


def jwks(*keys: SigningKey) -> dict[str, Any]:
    """The public JWKS document for these keys."""
    return {"keys": [k.public_jwk() for k in keys]}


def write_jwks(path: Path, *keys: SigningKey) -> Path:
    path.write_text(json.dumps(jwks(*keys)), encoding="utf-8")
    return path


def claims(
    *,
    sub: str | None = "user-1",
    org_id: str | None = "tenant-1",
    ttl_seconds: int = 300,
    **extra: Any,
) -> dict[str, Any]:
    """A payload the verifier accepts with ISSUER/AUDIENCE; a value of None drops the claim."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "org_id": org_id,
        "iat": now,
        "exp": now + ttl_seconds,
        **extra,
    }
    return {k: v for k, v in payload.items() if v is not None}


def mint(
    key: SigningKey,
    payload: dict[str, Any] | None = None,
    *,
    alg: str | None = None,
    kid: str | None = None,
    omit_kid: bool = False,
) -> str:
    """Sign `payload` (default `claims()`) with `key`, under `key.kid` unless told otherwise."""
    headers: dict[str, Any] = {} if omit_kid else {"kid": kid or key.kid}
    return jwt.encode(
        claims() if payload is None else payload,
        key.private_key,
        algorithm=alg or key.alg,
        headers=headers,
    )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json_segment(obj: dict[str, Any]) -> str:
    return _b64url(json.dumps(obj, separators=(",", ":")).encode())


def _segments(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{_json_segment(header)}.{_json_segment(payload)}"


def unsigned_token(payload: dict[str, Any], kid: str | None = None) -> str:
    """An `alg: none` token, built by hand since PyJWT rightly makes this awkward."""
    header: dict[str, Any] = {"alg": "none", "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    return _segments(header, payload) + "."


def hs256_token(payload: dict[str, Any], secret: bytes, kid: str | None = None) -> str:
    """HS256 with an arbitrary secret, e.g. a public key PEM (the classic confusion attack).

    Built by hand because PyJWT refuses PEM-looking HMAC secrets.
    """
    header: dict[str, Any] = {"alg": "HS256", "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    signing_input = _segments(header, payload)
    mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(mac)}"


def bearer(token: str) -> str:
    return f"Bearer {token}"


class JwksServer(LocalServer):
    """A JWKS endpoint on 127.0.0.1 that counts its requests.

    Change `document`, `status` or `raw_body` while it runs to simulate key
    rotation, an outage (status 503) or garbage (raw_body=b"<html>").
    """

    def __init__(self, document: dict[str, Any]) -> None:
        super().__init__()
        self.document = document
        self.status = 200
        self.raw_body: bytes | None = None
        self.requests = 0

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                server.requests += 1
                body = server.raw_body
                if body is None:
                    body = json.dumps(server.document).encode()
                send_json(self, server.status, body)

        return Handler

    @property
    def url(self) -> str:
        return f"{self.origin}/.well-known/jwks.json"


@contextmanager
def serve_jwks(*keys: SigningKey) -> Iterator[JwksServer]:
    """`with serve_jwks(key) as server: ... server.url ... server.requests`."""
    with JwksServer(jwks(*keys)) as server:
        yield server


def unreachable_url() -> str:
    """A JWKS URL on a local port nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/.well-known/jwks.json"
