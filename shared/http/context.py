"""What a route handler gets: the request, who is calling, and the services."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from flask import Request

from shared.adapters.jwt_auth import Principal
from shared.errors import InvalidInput
from shared.services import Services

MAX_IDEMPOTENCY_KEY = 200


@dataclass(frozen=True)
class RequestContext:
    request: Request
    principal: Principal
    services: Services

    def new_ids(self, kind: str) -> tuple[str, str, str | None]:
        """(documentId, runId, idempotencyKey) for a create request.

        With an `Idempotency-Key` header the ids are derived from the tenant,
        the kind of request and the key, so a retried create collides with
        the first one instead of making a second session.
        """
        key = self.request.headers.get("Idempotency-Key")
        if key is None:
            return uuid.uuid4().hex, uuid.uuid4().hex, None
        key = key.strip()
        if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
            raise InvalidInput(
                f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} printable characters"
            )
        seed = f"{self.principal.tenant_id}\x00{kind}\x00{key}".encode()
        digest = hashlib.sha256(seed).hexdigest()
        return digest[:32], hashlib.sha256(seed + b"\x00run").hexdigest()[:32], key
