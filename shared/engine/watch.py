"""Watching one run for changes: the interface a live view (Server-Sent Events) needs.

Kept apart from `RunStore` because only the api's event stream uses it, and
because a watch is long-lived: it holds a listener that must be closed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from shared.engine.records import RunRecord

# Called with the run as it is now, on the listener's own thread: once at
# once, then on every change; None when the run document is gone.
OnChange = Callable[[RunRecord | None], None]


class Subscription(Protocol):
    @property
    def active(self) -> bool:
        """False once the listener stopped for good (closed, or its stream failed)."""

    def close(self) -> None:
        """Stop listening (idempotent)."""


class RunWatcher(Protocol):
    def watch(self, run_id: str, on_change: OnChange) -> Subscription:
        """Start listening to the run; `on_change` must return quickly."""
