"""Local development identity provider: a signing key on disk and tokens minted from it.

The api verifies tokens the same way locally as in production (against a
JWKS), so local runs exercise the real auth path; only the issuer differs.
Keys are generated on first use into a git-ignored folder rather than
committed, so no private key ever lives in the repository.

    python -m devtools.devauth token --tenant T --user U [--ttl N]
    python -m devtools.devauth env
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

DEV_ISSUER = "https://auth.local.genjobs.dev"
DEV_AUDIENCE = "genjobs-local"
DEFAULT_DIRECTORY = Path(".dev")
PRIVATE_KEY_FILE = "dev-signing-key.pem"
JWKS_FILE = "jwks.json"


@dataclass(frozen=True)
class DevKeys:
    """The local signing key and where its public half was published."""

    private_key: rsa.RSAPrivateKey
    kid: str
    private_key_path: Path
    jwks_path: Path


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _public_jwk(private_key: rsa.RSAPrivateKey) -> dict[str, str]:
    """Public JWK whose `kid` is its RFC 7638 thumbprint.

    A thumbprint is stable for a given key, so re-running never changes the
    kid, and a regenerated key can never be confused with the old one.
    """
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    members = {"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode("ascii")
    kid = _b64url(hashlib.sha256(canonical).digest())
    return {**members, "kid": kid, "alg": "RS256", "use": "sig"}


def _create_private(path: Path, data: bytes) -> None:
    """Create the file 0600 from the start (chmod after writing leaves a window), if absent.

    Two targets started at once on a fresh clone (`make api` and `make
    worker`, or the test workers' `make dev`) both find no key: the file is
    linked into place, which fails for the second, so both use the first
    key instead of the second overwriting a key the first already handed out.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


def _replace_text(path: Path, text: str) -> None:
    """Write `path` whole or not at all: a process starting meanwhile never reads half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def ensure_dev_keys(directory: Path = DEFAULT_DIRECTORY) -> DevKeys:
    """Return the local keys, creating them only if absent.

    Idempotent so that every `make` target can call it: tokens minted earlier
    keep verifying, and an api already running with the JWKS keeps working.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    # The repo's .gitignore covers .dev/, but a caller may pick another folder.
    ignore = directory / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")

    key_path = directory / PRIVATE_KEY_FILE
    if not key_path.exists():
        created = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = created.private_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PrivateFormat.PKCS8,
            encryption_algorithm=serialization.NoEncryption(),
        )
        _create_private(key_path, pem)
    # Read back whichever key won, should another process have created one first.
    loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise SystemExit(f"{key_path} is not an RSA private key; delete it to regenerate")
    private_key = loaded

    jwk = _public_jwk(private_key)
    jwks_path = directory / JWKS_FILE
    jwks_text = json.dumps({"keys": [jwk]}, indent=2) + "\n"
    # Rewritten only when it does not match the key (missing, stale, edited),
    # so a reused key leaves the file untouched.
    if not jwks_path.exists() or jwks_path.read_text(encoding="utf-8") != jwks_text:
        _replace_text(jwks_path, jwks_text)

    return DevKeys(
        private_key=private_key,
        kid=jwk["kid"],
        private_key_path=key_path.resolve(),
        jwks_path=jwks_path.resolve(),
    )


def mint_token(
    keys: DevKeys,
    tenant: str,
    user: str,
    *,
    issuer: str = DEV_ISSUER,
    audience: str | None = DEV_AUDIENCE,
    ttl_seconds: int = 3600,
    tenant_claim: str = "org_id",
) -> str:
    """A token shaped like the production provider's, signed with the dev key."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": user,
        tenant_claim: tenant,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if audience is not None:
        claims["aud"] = audience
    return jwt.encode(claims, keys.private_key, algorithm="RS256", headers={"kid": keys.kid})


def env_lines(keys: DevKeys) -> list[str]:
    """The AUTH_* settings that make the local api trust the dev key."""
    return [
        f"AUTH_JWKS_FILE={keys.jwks_path}",
        f"AUTH_ISSUER={DEV_ISSUER}",
        f"AUTH_AUDIENCE={DEV_AUDIENCE}",
    ]


def _non_empty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.devauth", description=__doc__)
    parser.add_argument(
        "--dir", type=Path, default=DEFAULT_DIRECTORY, help="key folder (default .dev)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="print a bearer token (and nothing else)")
    token.add_argument("--tenant", required=True, type=_non_empty)
    token.add_argument("--user", required=True, type=_non_empty)
    token.add_argument("--ttl", type=_positive_int, default=3600, help="seconds (default 3600)")
    commands.add_parser("env", help="print AUTH_* lines for the local api")
    args = parser.parse_args(argv)

    keys = ensure_dev_keys(args.dir)
    if args.command == "token":
        # stdout carries only the token so that `$(make token ...)` can be used as-is.
        sys.stdout.write(mint_token(keys, args.tenant, args.user, ttl_seconds=args.ttl) + "\n")
    else:
        sys.stdout.write("\n".join(env_lines(keys)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
