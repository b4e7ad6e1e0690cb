"""Who is calling: what the HTTP layer gets from whatever authenticates requests.

The HTTP layer scopes every read and write by it; the JWT adapter produces
it. It lives with the models, below both, so the adapter does not import
the HTTP layer (which imports the wiring that builds the adapter).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """The authenticated caller; `tenant_id` scopes every document they may see."""

    user_id: str
    tenant_id: str
