"""The engine's own test workflows, and the test kit's harness with their defaults.

Workflows here are known to the harness only (`shared.engine.testing`),
never to the process-wide registry the api lists.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.engine import EngineSettings, Outcome, StepContext, SubjectFields, Workflow
from shared.engine.testing import EngineHarness, InMemoryRunStore

# Three attempts a step: the retry tests stay short.
SETTINGS = EngineSettings(step_max_attempts=3)
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


class Harness(EngineHarness):
    """The kit's harness with these tests' defaults: three attempts, a `Job` run, its subject.

    `deliver` is one Pub/Sub delivery to the worker; `run` and `subject`
    read run-1 unless told otherwise.
    """

    def __init__(
        self, settings: EngineSettings = SETTINGS, *, store: InMemoryRunStore | None = None
    ) -> None:
        super().__init__(settings, store=store)

    def start(  # type: ignore[override]
        self, workflow: Workflow[Any], run_id: str = "run-1", tenant: str = "org-a"
    ) -> str:
        subject = f"subjects/{run_id}"
        return super().start(
            workflow,
            Job(),
            run_id=run_id,
            tenant=tenant,
            documents={subject: {"state": "IN_PROGRESS", "runId": run_id}},
        )

    def subject(self, run_id: str = "run-1") -> dict[str, Any]:
        return self.document(f"subjects/{run_id}")


def completed(outcome: str) -> bool:
    return outcome == Outcome.COMPLETED.value


class Approval(BaseModel):
    """The payload of the test workflows' `approve` signal."""

    model_config = ConfigDict(extra="forbid")

    ok: bool
    note: str = Field(default="", max_length=50)


# How long `approval_workflow` waits for its signal: longer than its deadline,
# which a wait must not run into.
APPROVAL_TIMEOUT = timedelta(hours=2)


def approval_workflow(
    recorder: Recorder, *, on_timeout: Literal["fail", "continue"] = "fail"
) -> Workflow[Job]:
    """compute -> approval (waits for `approve`; `ok: false` cancels) -> save."""
    wf: Workflow[Job] = Workflow(
        id="test.approval", input_model=Job, description="waits", subject=SUBJECT
    )

    @wf.step("compute")
    def compute(ctx: StepContext[Job]) -> Value:
        recorder.hit("compute", ctx)
        return Value(n=1)

    def parked(ctx: StepContext[Any]) -> None:
        ctx.merge(f"subjects/{ctx.run_id}", {"state": "AWAITING", "proposal": 1})

    approval = wf.wait_for_signal(
        "approval",
        signal="approve",
        output=Approval,
        timeout=APPROVAL_TIMEOUT,
        on_timeout=on_timeout,
        timeout_error="nobody approved within 2 hours",
        on_wait=parked,
        cancel_if=lambda a: None if a.ok else "not approved",
    )

    @wf.step("save")
    def save(ctx: StepContext[Job]) -> Value:
        recorder.hit("save", ctx)
        got = ctx.signal(approval)
        note = "no answer" if got is None else got.note
        ctx.merge(f"subjects/{ctx.run_id}", {"state": "COMPLETED", "note": note})
        return Value(n=ctx.output(compute).n)

    return wf


def sleep_workflow(recorder: Recorder, seconds: float) -> Workflow[Job]:
    """compute -> nap (sleeps `seconds`) -> save (records when it ran)."""
    wf: Workflow[Job] = Workflow(
        id="test.sleep", input_model=Job, description="sleeps", subject=SUBJECT
    )

    @wf.step("compute")
    def compute(ctx: StepContext[Job]) -> Value:
        recorder.hit("compute", ctx)
        return Value(n=1)

    wf.sleep("nap", duration=timedelta(seconds=seconds))

    @wf.step("save")
    def save(ctx: StepContext[Job]) -> Value:
        recorder.hit("save", ctx)
        ctx.merge(f"subjects/{ctx.run_id}", {"state": "COMPLETED", "at": ctx.now.isoformat()})
        return Value(n=ctx.output(compute).n)

    return wf
