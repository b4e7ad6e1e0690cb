"""The engine on the in-memory store and a fake clock: workflows, a harness, a crash.

Workflows here are registered with the harness only (the runner is given
them), never with the process-wide registry the api lists.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from shared.engine.delivery import EngineConfig, Outcome
from shared.engine.lifecycle import new_run, start_run
from shared.engine.records import RunRecord, SubjectFields, Write
from shared.engine.runner import Runner
from shared.engine.slots import TenantSlots
from shared.engine.sweep import SweepReport, sweep
from shared.engine.workflow import StepContext, Workflow
from shared.errors import RetryLater
from tests.helpers.memory_store import FakeClock, InMemoryRunStore

RETRY = "RETRY"
# The test workflows' subject documents: field names of their own, not the domain's.
SUBJECT = SubjectFields(status="state", error="problem")


class Job(BaseModel):
    name: str = "job"


class Value(BaseModel):
    n: int


class Days(BaseModel):
    days: list[int]


class Recorder:
    """Counts step bodies' executions; `on[step]` runs inside the body (to fail, crash, wait)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.on: dict[str, Callable[[StepContext[Any]], None]] = {}
        self._lock = threading.Lock()

    def hit(self, step_id: str, ctx: StepContext[Any]) -> None:
        with self._lock:
            self.calls[step_id] += 1
        action = self.on.get(step_id)
        if action is not None:
            action(ctx)


def linear_workflow(recorder: Recorder, *, deadline_minutes: int = 15) -> Workflow[Job]:
    """load (pure) -> compute -> save (writes the subject COMPLETED)."""
    wf: Workflow[Job] = Workflow(
        id="test.linear",
        input_model=Job,
        description="three steps",
        deadline=timedelta(minutes=deadline_minutes),
        subject=SUBJECT,
    )

    @wf.step("load", pure=True)
    def load(ctx: StepContext[Job]) -> Value:
        recorder.hit("load", ctx)
        return Value(n=1)

    @wf.step("compute")
    def compute(ctx: StepContext[Job]) -> Value:
        recorder.hit("compute", ctx)
        ctx.put(f"results/{ctx.run_id}-compute", {"attempt": ctx.attempt})
        return Value(n=ctx.output(load).n + 1)

    @wf.step("save")
    def save(ctx: StepContext[Job]) -> Value:
        recorder.hit("save", ctx)
        value = ctx.output(compute).n
        ctx.merge(f"subjects/{ctx.run_id}", {"state": "COMPLETED", "value": value})
        return Value(n=value)

    return wf


def fan_out_workflow(recorder: Recorder, days: int = 4) -> Workflow[Job]:
    """plan -> day-N for each planned day, concurrently -> collect."""
    wf: Workflow[Job] = Workflow(
        id="test.fan-out", input_model=Job, description="fan-out", subject=SUBJECT
    )

    @wf.step("plan")
    def plan(ctx: StepContext[Job]) -> Days:
        recorder.hit("plan", ctx)
        return Days(days=list(range(1, days + 1)))

    def planned(ctx: StepContext[Any]) -> list[int]:
        return ctx.output(plan).days

    @wf.fan_out("day", over=planned)
    def day(ctx: StepContext[Job], n: int) -> Value:
        recorder.hit(f"day-{n}", ctx)
        ctx.put(f"days/{ctx.run_id}-{n}", {"n": n})
        return Value(n=n)

    @wf.step("collect")
    def collect(ctx: StepContext[Job]) -> Value:
        recorder.hit("collect", ctx)
        total = sum(v.n for v in ctx.outputs(day).values())
        ctx.merge(f"subjects/{ctx.run_id}", {"state": "COMPLETED", "total": total})
        return Value(n=total)

    return wf


class ListPublisher:
    def __init__(self) -> None:
        self.published: list[str] = []

    def publish_run(self, run_id: str, workflow: str) -> None:
        self.published.append(run_id)


@dataclass
class Engine:
    """A runner, its store and clock; `deliver` is one Pub/Sub delivery to the worker."""

    store: InMemoryRunStore = field(default_factory=InMemoryRunStore)
    clock: FakeClock = field(default_factory=FakeClock)
    config: EngineConfig = field(
        default_factory=lambda: EngineConfig(
            lease_seconds=30, step_max_attempts=3, redrive_after_seconds=120
        )
    )
    publisher: ListPublisher = field(default_factory=ListPublisher)
    workflows: dict[str, Workflow[Any]] = field(default_factory=dict)
    # TENANT_MAX_ACTIVE_RUNS; None: no limit.
    tenant_limit: int | None = None

    def runner(self) -> Runner:
        slots = None
        if self.tenant_limit is not None:
            redrive = timedelta(seconds=self.config.redrive_after_seconds)
            slots = TenantSlots(
                self.store, self.store, self.publisher, self.tenant_limit, redrive_after=redrive
            )
        return Runner(
            self.store,
            config=self.config,
            clock=self.clock,
            workflows=self.workflows.get,
            slots=slots,
        )

    def start(self, workflow: Workflow[Any], run_id: str = "run-1", tenant: str = "org-a") -> str:
        self.workflows[workflow.id] = workflow
        subject = f"subjects/{run_id}"
        run = new_run(
            workflow,
            Job(),
            run_id=run_id,
            tenant_id=tenant,
            user_id="user-1",
            subject=subject,
            now=self.clock(),
            redrive_after=timedelta(seconds=self.config.redrive_after_seconds),
        )
        document = {"state": "IN_PROGRESS", "runId": run_id}
        start_run(self.store, self.publisher, run, [Write(path=subject, data=document)])
        return run_id

    def deliver(self, run_id: str = "run-1") -> str:
        """The delivery's outcome, or RETRY when the worker would answer 500."""
        try:
            return self.runner().run(run_id).value
        except RetryLater:
            return RETRY

    def after_lease(self) -> None:
        self.clock.advance(self.config.lease_seconds + 1)

    def run(self, run_id: str = "run-1") -> RunRecord:
        loaded = self.store.load(run_id)
        assert loaded is not None
        return loaded.record

    def subject(self, run_id: str = "run-1") -> dict[str, Any]:
        doc = self.store.read(f"subjects/{run_id}")
        assert doc is not None
        return doc

    def sweep(self) -> SweepReport:
        return sweep(
            self.store,
            self.publisher,
            now=self.clock(),
            redrive_after=timedelta(seconds=self.config.redrive_after_seconds),
        )


def completed(outcome: str) -> bool:
    return outcome == Outcome.COMPLETED.value
