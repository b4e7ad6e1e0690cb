"""Executes one delivery of a run: take the lease, run what is left, checkpoint each step.

The invariants (docs/architecture.md) and where they are kept:
- memoization: `RunPlan.replay` rebuilds outputs from the run document read
  at claim time, so completed steps are skipped;
- exactly-once effects: a step's writes and its checkpoint are one
  conditional commit (`Commits.step_completed`), fenced by the run's version;
- one runner at a time: the claim takes a lease with a conditional update, a
  live lease of someone else's means ack and leave, and every later write
  of ours fails once someone else has written the run (`fencing`);
- retries: an ordinary exception records the attempt and asks for
  redelivery; `NonRetriableError` or exhausted attempts end the run FAILED;
- crash accounting: the start of each attempt is made durable before the
  attempt runs (`attempts`, folded into the previous commit).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from shared import logs, tracing
from shared.engine.attempts import Attempts, StepFailure
from shared.engine.commits import Commits, finish_run
from shared.engine.delivery import Clock, Outcome, Stop
from shared.engine.fan_out import run_items
from shared.engine.fencing import Heartbeat, RunFence
from shared.engine.handover import Handover
from shared.engine.known_workflows import registry
from shared.engine.ledger import UsageLedger
from shared.engine.live import LiveLog, LiveStep, LiveStore
from shared.engine.meter import StepMeter
from shared.engine.plan import RunPlan
from shared.engine.records import (
    MAX_COMMIT_BYTES,
    MAX_OUTPUT_BYTES,
    RunRecord,
    RunStatus,
    StepRecord,
    StepStatus,
    Write,
    checkpoint_bytes,
    stored_bytes,
)
from shared.engine.rerun import link_source
from shared.engine.settings import EngineSettings
from shared.engine.slots import TenantSlots
from shared.engine.store import LoadedRun, RunPatch, RunStore
from shared.engine.transitions import FailureReason
from shared.engine.waits import park_patch, wait_state
from shared.engine.workflow import (
    NO_SIGNAL,
    NO_SIGNAL_CHECKPOINT,
    FanOut,
    Step,
    Wait,
    Workflow,
)
from shared.errors import (
    CheckpointFailed,
    CommitTooLarge,
    NonRetriableError,
    OutputTooLarge,
    RetryLater,
    RunExists,
    StaleRun,
    describe,
)
from shared.tracing import TraceContext

log = logging.getLogger(__name__)

# Claims lost to another delivery (of this run, or for the same tenant slot)
# before this one gives up and leaves the run to its watchdog.
CLAIM_TRIES = 8
# Past another's lease expiry before re-reading the run (clocks of instances differ).
LEASE_WAIT_MARGIN_SECONDS = 0.25


class Runner:
    """Runs deliveries of runs: the `Engine`'s `deliver`, built by it. Thread-safe."""

    def __init__(
        self,
        store: RunStore,
        *,
        settings: EngineSettings,
        clock: Clock,
        deps: Any = None,
        workflows: Callable[[str], Workflow[Any] | None] = registry.get,
        slots: TenantSlots | None = None,
        ledger: UsageLedger | None = None,
        sleep: Callable[[float], None] = time.sleep,
        handover: Handover | None = None,
        live: LiveStore | None = None,
    ) -> None:
        self.store = store
        # Where streamed items are written (`engine.live`); None: nowhere.
        self.live = live
        # How a short sleep step passes in the delivery (the test kit moves its clock).
        self.sleep = sleep
        # Runs each delivery in its own thread, so a stopping instance can
        # answer its pushes at once (`engine.handover`); None: in the caller's.
        self.handover = handover
        # Per-tenant concurrency limit; None: no limit.
        self.slots = slots
        self.workflows = workflows
        self.deps = deps
        self.settings = settings
        self.clock = clock
        self.ledger = ledger
        self._owner_prefix = f"{socket.gethostname()}:{os.getpid()}"

    def run(self, run_id: str, via: TraceContext | None = None) -> Outcome:
        """Execute what is left of the run; raises RetryLater when Pub/Sub should redeliver."""
        with logs.run_context(run_id), tracing.continued(via):
            loaded = self.store.load(run_id)
            if loaded is None:
                log.warning("delivery for an unknown run; acknowledging")
                return Outcome.UNKNOWN_RUN
            run = loaded.record
            parent, links = delivery_parent(run, via)
            owner = f"{self._owner_prefix}:{uuid.uuid4().hex[:8]}"
            with (
                logs.workflow_context(run.workflow),
                tracing.span(
                    f"deliver {run.workflow}",
                    parent=parent,
                    kind="consumer",
                    links=links,
                    attributes={
                        "genjobs.run_id": run_id,
                        "genjobs.workflow": run.workflow,
                        "genjobs.delivery": run.deliveries + 1,
                        "messaging.system": "gcp_pubsub",
                        "messaging.operation.type": "process",
                    },
                ) as delivery,
            ):
                execution = _Execution(self, loaded, owner)
                if self.handover is None:
                    outcome = execution.start()
                else:
                    outcome = self.handover.run(execution, execution.start)
                delivery.set("genjobs.outcome", outcome.value)
                log.info("delivery finished", extra={"outcome": outcome.value})
            return outcome


def delivery_parent(
    run: RunRecord, via: TraceContext | None
) -> tuple[TraceContext | None, list[TraceContext]]:
    """Where a delivery's span goes: always into the run's trace (one run, one trace).

    Under the message's span when it is in the run's trace (the create's
    publish); otherwise (the sweep's or a resume's publish) under the span
    that created the run, linked to the message's. A run from before traces
    has none: the message's context, or a new trace.
    """
    if run.trace_id is None or run.trace_span_id is None:
        return via, []
    if via is not None and via.trace_id == run.trace_id:
        return via, []
    stored = TraceContext(run.trace_id, run.trace_span_id, run.trace_sampled)
    return stored, [via] if via is not None else []


class _Execution:
    """One delivery: admit, claim, then run the open stages in order."""

    def __init__(self, runner: Runner, loaded: LoadedRun, owner: str) -> None:
        self.runner = runner
        self.settings = runner.settings
        self.clock = runner.clock
        self.fence = RunFence(
            runner.store, loaded, owner, runner.settings, runner.clock, runner.ledger
        )
        # The version of the tenant slot this delivery holds, if any.
        self.slot_version: object | None = None
        # A slot tried without looking was taken: look at the tenant's slots.
        self.look_for_slot = False
        self.run_id = loaded.record.run_id
        self.workflow = loaded.record.workflow
        # Set by `_prepare`; None until this delivery knows the run's workflow.
        self.marks: Attempts | None = None
        fence = self.fence
        self.live = (
            None
            if runner.live is None
            else LiveLog(
                runner.live,
                loaded.record.run_id,
                runner.settings.stream_flush.total_seconds(),
                stopped=lambda: fence.stopped is not None,
            )
        )

    def start(self) -> Outcome:
        waited = False
        for _ in range(CLAIM_TRIES):
            admitted = self._admit()
            if admitted is Outcome.LEASED_ELSEWHERE and not waited:
                waited = True
                if self._wait_out_lease():
                    continue
            if isinstance(admitted, Outcome):
                return admitted
            self._prepare(admitted)
            changed = self.plan.changed_reason()
            if changed is not None:
                return self._finish_unclaimed(changed, FailureReason.WORKFLOW_CHANGED)
            try:
                if not self._claim():
                    return Outcome.WAITING_FOR_SLOT
                break
            except Stop as stop:
                self._leave_slot()  # a claim that failed the run (out of attempts) landed
                return stop.outcome
            except (StaleRun, RunExists) as exc:
                # The run moved on, or another delivery took the slot we chose.
                self.look_for_slot = self.look_for_slot or isinstance(exc, RunExists)
                fresh = self.runner.store.load(self.fence.run.run_id)
                if fresh is None:
                    return Outcome.UNKNOWN_RUN
                self.fence.adopt(fresh)
        else:
            return Outcome.LEASED_ELSEWHERE

        run = self.fence.run
        if self.live is not None and run.deliveries == 1:
            self.live.starts_empty()
        if run.rerun_of is not None and run.deliveries == 1:
            # A rerun's first delivery: its source lists it, should the
            # request that made it have stopped before linking (idempotent).
            link_source(self.runner.store, run.rerun_of, run.run_id, self.clock())
        try:
            with Heartbeat(self.fence):
                outcome = self._execute_claimed()
        except Exception:
            self._leave_slot()
            raise
        finally:
            if self.live is not None:
                self.live.close()
        self._leave_slot()
        return outcome

    def _wait_out_lease(self) -> bool:
        """Wait for another delivery's lease to run out, then re-read the run; False: ack now.

        A push redelivered after its worker died (Cloud Run answers the push
        with an error, Pub/Sub redelivers after its backoff) finds the dead
        worker's lease still live. Waiting for it to expire (at most
        `lease_wait`) lets that redelivery take the run over, instead of
        acknowledging and leaving it to the sweep's next tick. A live owner
        renews its lease meanwhile, and this delivery then acknowledges.
        """
        expires = self.fence.run.lease_expires_at
        if expires is None:
            return False
        seconds = (expires - self.clock()).total_seconds() + LEASE_WAIT_MARGIN_SECONDS
        if not 0 < seconds <= self.settings.lease_wait.total_seconds():
            return False
        log.info("run is leased by another delivery; waiting %.1f s for its lease", seconds)
        handover = self.runner.handover
        if handover is not None:
            if handover.stopping.wait(seconds):
                return False  # the instance is stopping: handed over with the others
        else:
            time.sleep(seconds)
        fresh = self.runner.store.load(self.run_id)
        if fresh is None:
            return False
        self.fence.adopt(fresh)
        return True

    def hand_over(self) -> bool:
        """The instance is stopping: release the run (attempts in flight given back); publish?"""
        with self.fence.lock:
            return self.fence.hand_over(self._given_back())

    def _given_back(self) -> dict[str, StepRecord]:
        """The records of steps this delivery started and did not finish, their attempt undone.

        A deploy stopping the instance is not the step's failure: the next
        instance makes the same attempt again rather than a new one.
        """
        attempts = self.marks
        if attempts is None or self.fence.run.lease_owner != self.fence.owner:
            return {}
        given: dict[str, StepRecord] = {}
        for step_id in list(attempts.marked):
            record = self.fence.run.steps.get(step_id)
            if record is None or record.status is not StepStatus.RUNNING or record.attempts < 1:
                continue
            given[step_id] = record.model_copy(
                update={"status": StepStatus.RETRYING, "attempts": record.attempts - 1}
            )
        return given

    def _claim(self) -> bool:
        """Claim the run, with a tenant slot if there is a limit; False: parked instead."""
        slots = self.runner.slots
        if slots is None:
            self.commits.claim()
            return True
        run, now = self.fence.run, self.clock()
        taken = slots.take(run, now, look=self.look_for_slot)
        if taken is None:
            park = RunPatch(fields=slots.park_fields(run, now))
            self.fence.write(park, [slots.line_write(run, now)], claim=True)
            log.info("all of the tenant's slots are taken; the run waits QUEUED")
            slots.parked(run.tenant_id)
            return False
        index, write = taken
        fields = {"slot": index, "waiting_for_slot": None, "slot_queue": None}
        self.commits.claim(fields, [write])
        # The slot was written in the claim's commit, so it has the claim's version.
        self.slot_version = self.fence.version
        self.commits.release = slots.release_write(run, index, self.slot_version)
        return True

    def _leave_slot(self) -> None:
        slots = self.runner.slots
        if slots is not None and self.slot_version is not None:
            if self.commits.released:
                slots.released(self.fence.run)
            else:
                slots.leave(self.fence.run, self.slot_version)
            self.slot_version = None

    def _execute_claimed(self) -> Outcome:
        try:
            return self._execute()
        except Stop as stop:
            return stop.outcome
        except RetryLater:
            raise
        except Exception as exc:
            # Not a step's failure but ours (Firestore unreachable mid-commit,
            # say): hand the run back so a redelivery need not wait for the
            # lease to expire, then let Pub/Sub redeliver.
            log.exception("delivery failed outside a step; releasing the run")
            self.fence.release()
            raise RetryLater(f"delivery failed: {describe(exc)}") from exc

    def _admit(self) -> Workflow[Any] | Outcome:
        """Decide from the loaded run whether this delivery should run it at all."""
        run = self.fence.run
        if run.status.terminal:
            return Outcome.ALREADY_FINISHED
        if run.status is RunStatus.WAITING:
            # A duplicate of the delivery that parked it: the wait is the
            # signal's, the sweep's or a cancel's to end; nothing to write.
            log.info("run is waiting; acknowledging")
            return Outcome.WAITING
        now = self.clock()
        if run.lease_live(now) and run.lease_owner != self.fence.owner:
            log.info("run is leased by another delivery; acknowledging")
            return Outcome.LEASED_ELSEWHERE
        workflow = self.runner.workflows(run.workflow)
        if workflow is None:
            return self._finish_unclaimed(
                f"unknown workflow {run.workflow!r}", FailureReason.UNKNOWN_WORKFLOW
            )
        if now >= run.deadline_at:
            return self._finish_unclaimed(
                "deadline exceeded before the run could finish", FailureReason.DEADLINE
            )
        return workflow

    def _finish_unclaimed(self, error: str, reason: FailureReason) -> Outcome:
        try:
            finish_run(self.fence, RunStatus.FAILED, error, claim=True, reason=reason)
        except StaleRun:
            return Outcome.LEASED_ELSEWHERE
        return Outcome.FAILED

    def _prepare(self, workflow: Workflow[Any]) -> None:
        run = self.fence.run
        self.plan = RunPlan(workflow, run, self.runner.store.read, self.runner.deps)
        self.attempts = self.marks = Attempts(run, self.plan, self.settings)
        self.commits = Commits(self.fence, self.plan, self.attempts)

    def _execute(self) -> Outcome:
        for index, stage in enumerate(self.plan.stages):
            todo = self.plan.todo(stage, self.clock())
            if not todo:
                continue
            self.fence.check_still_ours()
            if self.clock() >= self.fence.run.deadline_at:
                finish_run(
                    self.fence,
                    RunStatus.FAILED,
                    f"deadline exceeded before step {todo[0]}",
                    reason=FailureReason.DEADLINE,
                )
                return Outcome.FAILED
            if isinstance(stage, Wait):
                parked = self._wait(stage)
                if parked is not None:
                    return parked
                continue
            if not stage.pure and self.attempts.unmarked(todo):
                self.commits.mark(index)
            failures = self._run_stage(stage, todo)
            if failures:
                return self.commits.step_failures(failures)
        if self.fence.run.status is not RunStatus.COMPLETED:
            # Every step was already checkpointed (a redelivery after the
            # final commit was lost would not get here: that commit is atomic).
            finish_run(self.fence, RunStatus.COMPLETED, None)
        return Outcome.COMPLETED

    def _wait(self, wait: Wait[Any]) -> Outcome | None:
        """Reach a wait step: skip it, sleep a short sleep here, or park the run WAITING.

        None when the wait has ended here (its record is committed) and the
        next stage may run; `Outcome.WAITING` once the run is parked.
        """
        run, now = self.fence.run, self.clock()
        ctx = self.plan.context(now=now, attempt=1, meter=StepMeter())
        if wait.when is not None and not wait.when(ctx):
            self._end_wait(wait, now)
            return None
        state = wait_state(wait, ctx, run, now)
        if wait.sleep:
            left = (state.timeout_at - now).total_seconds()
            if left <= self.settings.wait_in_process.total_seconds():
                if left > 0:
                    log.info("sleeping %.1f s in the delivery", left, extra={"step": wait.id})
                    self.runner.sleep(left)
                self._end_wait(wait, state.since)
                return None
        if wait.on_wait is not None and not (run.wait is not None and run.wait.step == wait.id):
            wait.on_wait(ctx)
        self.commits.park(park_patch(run, state), ctx.writes)
        return Outcome.WAITING

    def _end_wait(self, wait: Wait[Any], started: datetime) -> None:
        """The wait ended without a payload (skipped, or a short sleep slept): checkpoint it."""
        now = self.clock()
        record = StepRecord(
            status=StepStatus.COMPLETED,
            attempts=1,
            started_at=started,
            finished_at=now,
            duration_ms=int((now - started).total_seconds() * 1000),
            output=NO_SIGNAL_CHECKPOINT,
        )
        self.commits.step_completed(wait, wait.id, record, NO_SIGNAL, [])

    def _run_stage(self, stage: Step[Any] | FanOut[Any], todo: list[str]) -> list[StepFailure]:
        if isinstance(stage, FanOut):
            return run_items(
                todo,
                lambda step_id: self._run_step(stage, step_id),
                self.settings.max_parallel_steps,
            )
        failure = self._run_step(stage, todo[0])
        return [] if failure is None else [failure]

    def _run_step(self, stage: Step[Any] | FanOut[Any], step_id: str) -> StepFailure | None:
        self.fence.check_still_ours()  # a handed-over delivery starts no step
        attempt = self.attempts.number(step_id)
        attributes: dict[str, tracing.AttributeValue] = {
            "genjobs.step": step_id,
            "genjobs.step.attempt": attempt,
            "genjobs.step.max_attempts": self.settings.step_max_attempts,
            "genjobs.step.retry": attempt > 1,
        }
        with (
            logs.step_context(step_id),
            tracing.span(f"step {step_id}", attributes=attributes) as span,
        ):
            failure = self._attempt(stage, step_id, attempt)
            if failure is not None:
                span.set_many(
                    {
                        "genjobs.step.retriable": failure.retriable,
                        "genjobs.step.will_retry": self.attempts.will_retry(failure),
                        "genjobs.step.rate_limited": failure.waits is not None,
                    }
                )
                span.fail(failure.message, type(failure.cause).__name__)
            return failure

    def _attempt(
        self, stage: Step[Any] | FanOut[Any], step_id: str, attempt: int
    ) -> StepFailure | None:
        started = self.clock()
        live = None if self.live is None else LiveStep(self.live, step_id, attempt)
        meter = StepMeter(live)
        ctx = self.plan.context(now=started, attempt=attempt, meter=meter, inputs=stage.inputs)
        log.info("step started", extra={"attempt": attempt})
        try:
            if isinstance(stage, FanOut):
                item = stage.item_of(step_id)
                if item is None:
                    raise KeyError(step_id)
                output = stage.body(ctx, item)
            else:
                output = stage.body(ctx)
            if not isinstance(output, stage.output):
                raise TypeError(
                    f"step returned {type(output).__name__}, expected {stage.output.__name__}"
                )
            if ctx.writes and not stage.writes:
                raise NonRetriableError(
                    f"the step is declared writes=False but wrote {ctx.writes[0].path}"
                )
            checkpoint = self._checkpoint(step_id, output, ctx.writes)
        except Stop:
            raise
        except Exception as exc:
            return self._failed(StepFailure(step_id, exc, started, attempt, meter))
        record = self.attempts.completed(
            step_id, checkpoint, attempt=attempt, started=started, now=self.clock(), meter=meter
        )
        try:
            final = meter.final_items
            if self.live is not None and final is not None:
                # The streamed items' `final` lands with the checkpoint or not at all.
                with self.live.committing(step_id, attempt, final) as write:
                    writes = [*ctx.writes, write]
                    self.commits.step_completed(stage, step_id, record, output, writes)
            else:
                self.commits.step_completed(stage, step_id, record, output, ctx.writes)
        except CheckpointFailed as exc:
            # The store refused the step's commit: that is this step's
            # attempt failing, with the store's message on its record.
            return self._failed(StepFailure(step_id, exc, started, attempt, meter))
        log.info(
            "step completed",
            extra={
                "attempt": attempt,
                "durationMs": record.duration_ms,
                "totalTokens": record.usage.total_tokens if record.usage else 0,
            },
        )
        return None

    def _checkpoint(self, step_id: str, output: BaseModel, writes: Sequence[Write]) -> str:
        """The output's checkpoint text, once its commit is known to fit Firestore.

        Sizes are known before the commit: what could never be stored fails
        the step at once (nothing is written, no further model call is paid
        for) instead of failing in Firestore on every attempt.
        """
        checkpoint = output.model_dump_json()
        size = checkpoint_bytes(checkpoint)
        if size > MAX_OUTPUT_BYTES:
            raise OutputTooLarge(step_id, size, MAX_OUTPUT_BYTES)
        total = size + sum(stored_bytes(w.path) + stored_bytes(w.data) for w in writes)
        if total > MAX_COMMIT_BYTES:
            raise CommitTooLarge(step_id, total, MAX_COMMIT_BYTES)
        return checkpoint

    def _failed(self, failure: StepFailure) -> StepFailure:
        # exc_info: an unexpected error's stack trace goes to the log
        # (redacted, as an Error Reporting event); ours need no trace. A
        # failed commit is reported as the store's own error, which is the
        # unexpected one.
        if self.live is not None:
            # Whatever the attempt showed is withdrawn before anything else is.
            self.live.failed(failure.step_id, failure.attempt, failure.message)
        cause = failure.cause
        if isinstance(cause, CheckpointFailed) and cause.__cause__ is not None:
            cause = cause.__cause__
        log.warning(
            "step attempt failed: %s",
            failure.message,
            extra={"attempt": failure.attempt},
            exc_info=cause,
        )
        return failure
