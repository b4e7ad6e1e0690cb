"""What a route handler gets: the request, who is calling, and the services."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass

from flask import Request

from shared.errors import InvalidInput
from shared.http.principal import Principal
from shared.services import Services

# Visible ASCII, spaces only inside: what an HTTP header carries unchanged.
# The OpenAPI document publishes this same pattern.
IDEMPOTENCY_KEY_PATTERN = r"^[!-~](?:[ -~]{0,198}[!-~])?$"


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
        if not re.fullmatch(IDEMPOTENCY_KEY_PATTERN, key):
            raise InvalidInput("Idempotency-Key must be 1-200 visible ASCII characters")
        seed = f"{self.principal.tenant_id}\x00{kind}\x00{key}".encode()
        digest = hashlib.sha256(seed).hexdigest()
        return digest[:32], hashlib.sha256(seed + b"\x00run").hexdigest()[:32], key
