"""What a route handler gets: the request, who is calling, and the services."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Request

from shared.creation import Origin
from shared.errors import InvalidInput
from shared.models.principal import Principal
from shared.services import Services

# Visible ASCII, spaces only inside: what an HTTP header carries unchanged.
# The OpenAPI document publishes this same pattern.
IDEMPOTENCY_KEY_PATTERN = r"^[!-~](?:[ -~]{0,198}[!-~])?$"


@dataclass(frozen=True)
class RequestContext:
    request: Request
    principal: Principal
    services: Services

    def idempotency_key(self) -> str | None:
        """The request's `Idempotency-Key`, checked; None without one."""
        key = self.request.headers.get("Idempotency-Key")
        if key is not None and not re.fullmatch(IDEMPOTENCY_KEY_PATTERN, key):
            raise InvalidInput("Idempotency-Key must be 1-200 visible ASCII characters")
        return key

    def origin(self, *, keyed: bool = True) -> Origin:
        """The caller as the creators see it; `keyed`: its Idempotency-Key fixes the ids."""
        return Origin(
            services=self.services,
            tenant_id=self.principal.tenant_id,
            user_id=self.principal.user_id,
            source="http",
            key=self.idempotency_key() if keyed else None,
        )

    def new_ids(self, kind: str) -> tuple[str, str, str | None]:
        """(documentId, runId, idempotencyKey) for a create request.

        With an `Idempotency-Key` header the ids are derived from the tenant,
        the kind of request and the key, so a retried create collides with
        the first one instead of making a second session.
        """
        origin = self.origin()
        document, run = origin.ids(kind)
        return document, run, origin.key
