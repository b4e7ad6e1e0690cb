"""Waiting on a condition instead of for a fixed time (tests and benchmarks)."""

from __future__ import annotations

import time
from collections.abc import Callable


def until(condition: Callable[[], bool], timeout: float = 30.0, every: float = 0.02) -> bool:
    """Whether `condition` became true within `timeout` s (checked every `every` s)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True
