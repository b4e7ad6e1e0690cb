"""Local dev keys: created once, private, and accepted by the real verifier."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

from devtools import REPO_ROOT
from devtools.devauth import DEV_AUDIENCE, DEV_ISSUER, ensure_dev_keys, mint_token
from shared.adapters.jwt_auth import TokenVerifier
from shared.config import AuthSettings
from shared.models.principal import Principal


def dev_verifier(jwks_path: Path) -> TokenVerifier:
    return TokenVerifier(
        AuthSettings(jwks_file=str(jwks_path), issuer=DEV_ISSUER, audience=DEV_AUDIENCE)
    )


def test_ensure_dev_keys_is_idempotent(tmp_path: Path) -> None:
    first = ensure_dev_keys(tmp_path / ".dev")
    key_bytes = first.private_key_path.read_bytes()
    jwks_bytes = first.jwks_path.read_bytes()
    second = ensure_dev_keys(tmp_path / ".dev")
    assert second.private_key_path.read_bytes() == key_bytes
    assert second.jwks_path.read_bytes() == jwks_bytes
    assert second.kid == first.kid


# Waits for the go file, then creates (or reads) the keys and prints their kid.
_AT_ONCE = """
import sys, time
from pathlib import Path
from devtools.devauth import ensure_dev_keys
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
print(ensure_dev_keys(Path(sys.argv[1])).kid)
"""


def test_keys_created_by_several_processes_at_once_are_one_key(tmp_path: Path) -> None:
    """`make api` and `make worker` (or parallel test workers) started together share a key."""
    go = tmp_path / "go"
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", _AT_ONCE, str(tmp_path / ".dev"), str(go)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    go.touch()
    results = [process.communicate(timeout=60) for process in starters]

    assert [process.returncode for process in starters] == [0] * 4, results
    kids = {out.strip() for out, _ in results}
    assert kids == {ensure_dev_keys(tmp_path / ".dev").kid}
    assert [k["kid"] for k in json.loads((tmp_path / ".dev/jwks.json").read_text())["keys"]] == [
        *kids
    ]


def test_private_key_file_is_owner_only(tmp_path: Path) -> None:
    keys = ensure_dev_keys(tmp_path / ".dev")
    assert stat.S_IMODE(keys.private_key_path.stat().st_mode) == 0o600


def test_jwks_publishes_the_public_key_with_its_kid(tmp_path: Path) -> None:
    keys = ensure_dev_keys(tmp_path / ".dev")
    published = json.loads(keys.jwks_path.read_text())["keys"]
    assert [k["kid"] for k in published] == [keys.kid]
    assert "d" not in published[0]  # the private exponent must never be published


def test_minted_token_verifies(tmp_path: Path) -> None:
    keys = ensure_dev_keys(tmp_path / ".dev")
    token = mint_token(keys, "tenant-a", "user-a")
    principal = dev_verifier(keys.jwks_path).verify(f"Bearer {token}")
    assert principal == Principal(user_id="user-a", tenant_id="tenant-a")


def test_cli_token_prints_only_a_token_that_verifies(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "devtools.devauth", "token", "--tenant", "t1", "--user", "u1"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    verifier = dev_verifier(tmp_path / ".dev" / "jwks.json")
    assert verifier.verify(f"Bearer {token}") == Principal(user_id="u1", tenant_id="t1")


def test_cli_env_prints_auth_settings(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "devtools.devauth", "env"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    lines = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert lines == {
        "AUTH_JWKS_FILE": str((tmp_path / ".dev" / "jwks.json").resolve()),
        "AUTH_ISSUER": DEV_ISSUER,
        "AUTH_AUDIENCE": DEV_AUDIENCE,
    }
