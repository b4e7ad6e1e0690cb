"""Opaque page tokens for cursor pagination.

A token carries the last run of a page (creation time and id) and a check
value over that cursor, the tenant and the search criteria. A token that was
edited, made up, or reused with other criteria or by another tenant fails the
check and is a 400: it would otherwise silently return the wrong page. (The
check guards against mistakes, not attackers: every query is scoped to the
caller's tenant whatever the token says.)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import datetime

from shared.engine import Cursor
from shared.errors import MalformedRequest

_CHECK_CHARS = 16


def _check(tenant_id: str, scope: str, payload: str) -> str:
    seed = f"{tenant_id}\x00{scope}\x00{payload}".encode()
    return hashlib.sha256(seed).hexdigest()[:_CHECK_CHARS]


def encode(cursor: Cursor, tenant_id: str, scope: str) -> str:
    """`scope` names the search (its criteria, canonically) the token belongs to."""
    payload = json.dumps([cursor.created_at.isoformat(), cursor.run_id], separators=(",", ":"))
    raw = f"{payload}\n{_check(tenant_id, scope, payload)}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, tenant_id: str, scope: str) -> Cursor:
    invalid = MalformedRequest("pageToken is not a token this search returned")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        payload, check = raw.split("\n")
        created_at, run_id = json.loads(payload)
        cursor = Cursor(created_at=datetime.fromisoformat(created_at), run_id=str(run_id))
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise invalid from None
    if check != _check(tenant_id, scope, payload) or cursor.created_at.tzinfo is None:
        raise invalid
    return cursor
