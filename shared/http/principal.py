"""Who is calling: the interface between the HTTP layer and whatever authenticates requests.

Declared here, by the layer that scopes every read and write by it; the JWT
adapter produces it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """The authenticated caller; `tenant_id` scopes every document they may see."""

    user_id: str
    tenant_id: str
