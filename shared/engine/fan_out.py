"""Running a fan-out's items concurrently inside one invocation.

Each item commits its own checkpoint as it completes, so a crash loses only
the items still running. Every item runs to its end even when another fails,
and every failure is returned, so each failing item's error is recorded.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from shared.engine.attempts import StepFailure


def run_items(
    step_ids: list[str], run_one: Callable[[str], StepFailure | None], max_workers: int
) -> list[StepFailure]:
    """Run `run_one` for each step id, at most `max_workers` at a time; the failures, in order."""
    workers = min(len(step_ids), max_workers)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="step") as pool:
        # Each item runs in a copy of our context, so log lines keep the run's id.
        futures = [
            pool.submit(contextvars.copy_context().run, run_one, step_id) for step_id in step_ids
        ]
        results = [future.result() for future in futures]
    return [failure for failure in results if failure is not None]
