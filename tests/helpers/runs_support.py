"""Runs written straight into the real store, for tests and benchmarks that search many runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.engine import RunRecord, RunStatus, RunStore

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def seed_run(
    store: RunStore,
    *,
    tenant: str = "org-a",
    workflow: str = "brainstorm.generate-seeds",
    status: RunStatus = RunStatus.FAILED,
    created_at: datetime = T0,
    **fields: Any,
) -> RunRecord:
    """A run document as the engine stores it, with no domain document behind it."""
    run_id = uuid.uuid4().hex
    terminal = status.terminal
    run = RunRecord(
        run_id=run_id,
        workflow=workflow,
        tenant_id=tenant,
        user_id="user-1",
        subject=f"brainstormSessions/{run_id}",
        input={},
        status=status,
        created_at=created_at,
        deadline_at=created_at + timedelta(minutes=15),
        finished_at=created_at + timedelta(minutes=1) if terminal else None,
        error="generate-seeds: boom" if status is RunStatus.FAILED else None,
        **fields,
    )
    store.create(run, [])
    return run


def seed_series(store: RunStore, count: int, **fields: Any) -> list[RunRecord]:
    """`count` runs one minute apart, oldest first."""
    return [seed_run(store, created_at=T0 + timedelta(minutes=i), **fields) for i in range(count)]
