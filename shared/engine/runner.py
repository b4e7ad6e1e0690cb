"""Executes one delivery of a run: take the lease, run what is left, checkpoint each step.

The invariants (DESIGN.md) and where they are kept:
- memoization: `_replay` rebuilds outputs from the run document read at claim
  time, so completed steps are skipped;
- exactly-once effects: a step's writes and its checkpoint are one
  conditional commit (`RunStore.update`), fenced by the run's version;
- one runner at a time: `_claim` takes a lease with a conditional update, a
  live lease of someone else's means ack and leave, and every later write
  of ours fails once someone else has written the run;
- retries: an ordinary exception records the attempt and asks for
  redelivery; `NonRetriableError` or exhausted attempts end the run FAILED;
- crash accounting: the start of each attempt is made durable before the
  attempt runs (folded into the previous commit, so it costs no write).
"""

from __future__ import annotations

import contextvars
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ValidationError

from shared import logs
from shared.engine import registry
from shared.engine.meter import StepMeter
from shared.engine.model import RunStatus, StepRecord, StepStatus, Write, total_usage
from shared.engine.store import LoadedRun, RunPatch, RunStore
from shared.engine.transitions import subject_status_writes, terminal_fields
from shared.engine.workflow import FanOut, Stage, Step, StepContext, Workflow
from shared.errors import NonRetriableError, RetryLater, StaleRun, describe

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Outcome(StrEnum):
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    ALREADY_FINISHED = "ALREADY_FINISHED"
    LEASED_ELSEWHERE = "LEASED_ELSEWHERE"
    LEASE_LOST = "LEASE_LOST"
    UNKNOWN_RUN = "UNKNOWN_RUN"


@dataclass(frozen=True)
class EngineConfig:
    lease_seconds: float = 30.0
    step_max_attempts: int = 5
    redrive_after_seconds: float = 120.0
    max_parallel_steps: int = 8


class _StepFailed(Exception):
    def __init__(
        self,
        step_id: str,
        cause: BaseException,
        started: datetime,
        attempt: int,
        meter: StepMeter,
    ) -> None:
        super().__init__(describe(cause))
        self.step_id = step_id
        self.attempt = attempt
        self.cause = cause
        self.started = started
        self.meter = meter
        self.retriable = not isinstance(cause, NonRetriableError)


class _Stop(Exception):
    """The run left our hands (cancelled, finished or taken over) mid-execution."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome


class Runner:
    """Runs deliveries of runs. One instance per process; thread-safe."""

    def __init__(
        self,
        store: RunStore,
        *,
        deps: Any = None,
        config: EngineConfig | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.store = store
        self.deps = deps
        self.config = config or EngineConfig()
        self.clock = clock
        self._owner_prefix = f"{socket.gethostname()}:{os.getpid()}"

    def run(self, run_id: str) -> Outcome:
        """Execute what is left of the run; raises RetryLater when Pub/Sub should redeliver."""
        with logs.run_context(run_id):
            loaded = self.store.load(run_id)
            if loaded is None:
                log.warning("delivery for an unknown run; acknowledging")
                return Outcome.UNKNOWN_RUN
            owner = f"{self._owner_prefix}:{uuid.uuid4().hex[:8]}"
            execution = _Execution(self, loaded, owner)
            outcome = execution.start()
            log.info("delivery finished", extra={"outcome": outcome.value})
            return outcome


class _Execution:
    """One delivery's state: the run as we last wrote it, our version, outputs so far."""

    def __init__(self, runner: Runner, loaded: LoadedRun, owner: str) -> None:
        self.runner = runner
        self.store = runner.store
        self.config = runner.config
        self.clock = runner.clock
        self.owner = owner
        self.run = loaded.record
        self.version = loaded.version
        self.outputs: dict[str, BaseModel] = {}
        # Records of pure steps, written with the next commit.
        self.buffer: dict[str, StepRecord] = {}
        # Steps whose start of this attempt is durable.
        self.marked: set[str] = set()
        self.lock = threading.RLock()
        self.stopped: Outcome | None = None
        self.last_write = self.clock()
        self.workflow: Workflow[Any] | None = None
        # Set when marking finds a step out of attempts: the commit fails the run.
        self.pending_failure: str | None = None
        self._done = threading.Event()
        self._validated_input: BaseModel | None = None

    # -- entry -------------------------------------------------------------

    def start(self) -> Outcome:
        for _ in range(3):
            verdict = self._admit()
            if verdict is not None:
                return verdict
            try:
                self._claim()
                break
            except _Stop as stop:
                return stop.outcome
            except StaleRun:
                fresh = self.store.load(self.run.run_id)
                if fresh is None:
                    return Outcome.UNKNOWN_RUN
                self.run, self.version = fresh.record, fresh.version
        else:
            return Outcome.LEASED_ELSEWHERE

        heartbeat = threading.Thread(target=self._heartbeat, daemon=True)
        done = self._done
        heartbeat.start()
        try:
            return self._execute()
        except _Stop as stop:
            return stop.outcome
        except RetryLater:
            raise
        except Exception as exc:
            # Not a step's failure but ours (Firestore unreachable mid-commit,
            # say): hand the run back so a redelivery need not wait for the
            # lease to expire, then let Pub/Sub redeliver.
            log.exception("delivery failed outside a step; releasing the run")
            self._release()
            raise RetryLater(f"delivery failed: {describe(exc)}") from exc
        finally:
            done.set()
            heartbeat.join(timeout=5)

    def _release(self) -> None:
        try:
            with self.lock:
                self.buffer.clear()
                self._write(RunPatch(fields=self._released(self.clock())))
        except (_Stop, Exception):
            log.warning("could not release the run; its lease will expire instead")

    def _admit(self) -> Outcome | None:
        """Decide from the loaded run whether this delivery should run it at all."""
        run = self.run
        if run.status.terminal:
            return Outcome.ALREADY_FINISHED
        now = self.clock()
        if run.lease_live(now) and run.lease_owner != self.owner:
            log.info("run is leased by another delivery; acknowledging")
            return Outcome.LEASED_ELSEWHERE
        workflow = registry.get(run.workflow)
        if workflow is None:
            return self._finish_unclaimed(f"unknown workflow {run.workflow!r}")
        self.workflow = workflow
        if now >= run.deadline_at:
            return self._finish_unclaimed("deadline exceeded before the run could finish")
        return None

    def _finish_unclaimed(self, error: str) -> Outcome:
        try:
            self._finish(RunStatus.FAILED, error, claim=True)
        except StaleRun:
            return Outcome.LEASED_ELSEWHERE
        return Outcome.FAILED

    # -- claim -------------------------------------------------------------

    def _claim(self) -> None:
        workflow = self._wf()
        self._replay()
        now = self.clock()
        patch = RunPatch(
            fields={
                "status": RunStatus.RUNNING,
                "started_at": self.run.started_at or now,
                "lease_owner": self.owner,
                "deliveries": self.run.deliveries + 1,
                **self._lease_fields(now),
            }
        )
        first = self._first_open_stage(workflow)
        if first is not None:
            self._add_marks(patch, first, now)
        self._write(patch, claim=True)

    def _replay(self) -> None:
        """Rebuild completed steps' outputs from their checkpoints."""
        workflow = self._wf()
        for step_id, record in self.run.steps.items():
            if record.status is not StepStatus.COMPLETED or record.output is None:
                continue
            try:
                stage = workflow.stage_of(step_id)
                self.outputs[step_id] = stage.output.model_validate_json(record.output)
            except (KeyError, ValidationError):
                # A checkpoint the current code cannot read (renamed step,
                # changed model) is re-executed rather than trusted.
                log.warning("discarding unreadable checkpoint", extra={"step": step_id})

    # -- execution ---------------------------------------------------------

    def _execute(self) -> Outcome:
        workflow = self._wf()
        for index, stage in enumerate(workflow.stages):
            step_ids = self._step_ids(stage)
            todo = [s for s in step_ids if s not in self.outputs]
            if not todo:
                continue
            self._check_still_ours()
            if self.clock() >= self.run.deadline_at:
                self._finish(RunStatus.FAILED, f"deadline exceeded before step {todo[0]}")
                return Outcome.FAILED
            if not stage.pure and any(s not in self.marked for s in todo):
                self._mark_now(index, todo)
            try:
                self._run_stage(stage, todo, is_last=index == len(workflow.stages) - 1)
            except _StepFailed as failure:
                return self._on_failure(failure)
        if self.run.status is not RunStatus.COMPLETED:
            # Every step was already checkpointed (a redelivery after the
            # final commit was lost would not get here: that commit is atomic).
            self._finish(RunStatus.COMPLETED, None)
        return Outcome.COMPLETED

    def _run_stage(self, stage: Stage, todo: list[str], *, is_last: bool) -> None:
        if isinstance(stage, Step):
            self._run_step(stage, todo[0], None, is_last=is_last)
            return
        failures: list[_StepFailed] = []
        workers = min(len(todo), self.config.max_parallel_steps)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="step") as pool:
            futures = []
            for step_id in todo:
                ctx = contextvars.copy_context()
                item = stage.item_of(step_id)
                futures.append(
                    pool.submit(ctx.run, self._run_step, stage, step_id, item, is_last=is_last)
                )
            for future in futures:
                try:
                    future.result()
                except _StepFailed as failure:
                    failures.append(failure)
        if failures:
            fatal = [f for f in failures if not f.retriable]
            raise (fatal or failures)[0]

    def _run_step(self, stage: Stage, step_id: str, item: int | None, *, is_last: bool) -> None:
        with logs.step_context(step_id):
            previous = self.run.steps.get(step_id)
            attempt = previous.attempts if step_id in self.marked and previous else None
            if attempt is None:
                attempt = (previous.attempts if previous else 0) + 1
            started = self.clock()
            meter = StepMeter()
            ctx: StepContext[Any] = StepContext(
                run_id=self.run.run_id,
                tenant_id=self.run.tenant_id,
                user_id=self.run.user_id,
                input=self._input(),
                now=started,
                attempt=attempt,
                outputs=dict(self.outputs),
                reader=self.store.read,
                deps=self.runner.deps,
                meter=meter,
            )
            log.info("step started", extra={"attempt": attempt})
            try:
                if isinstance(stage, FanOut):
                    assert item is not None
                    output = stage.body(ctx, item)
                else:
                    output = stage.body(ctx)
                if not isinstance(output, stage.output):
                    raise TypeError(
                        f"step returned {type(output).__name__}, expected {stage.output.__name__}"
                    )
            except _Stop:
                raise
            except Exception as exc:
                # exc_info: an unexpected error's stack trace goes to the log
                # (redacted, as an Error Reporting event); ours need no trace.
                log.warning(
                    "step attempt failed: %s",
                    describe(exc),
                    extra={"attempt": attempt},
                    exc_info=exc,
                )
                raise _StepFailed(step_id, exc, started, attempt, meter) from exc
            finished = self.clock()
            record = StepRecord(
                status=StepStatus.COMPLETED,
                attempts=attempt,
                started_at=started,
                finished_at=finished,
                duration_ms=int((finished - started).total_seconds() * 1000),
                error=previous.error if previous else None,
                output=output.model_dump_json(),
                usage=total_usage(previous.usage if previous else None, meter.usage),
                repairs=meter.repairs,
            )
            self._commit_step(stage, step_id, record, output, ctx.writes, is_last=is_last)
            log.info(
                "step completed",
                extra={"attempt": attempt, "durationMs": record.duration_ms},
            )

    def _commit_step(
        self,
        stage: Stage,
        step_id: str,
        record: StepRecord,
        output: BaseModel,
        writes: Sequence[Write],
        *,
        is_last: bool,
    ) -> None:
        with self.lock:
            self.outputs[step_id] = output
            stage_done = all(s in self.outputs for s in self._step_ids(stage))
            if stage.pure and not writes and not (is_last and stage_done):
                self.buffer[step_id] = record
                self.run.steps[step_id] = record
                return
            now = self.clock()
            patch = RunPatch(fields=self._lease_fields(now), steps={step_id: record})
            if stage_done:
                following = self._stage_index(stage) + 1
                if following < len(self._wf().stages):
                    self._add_marks(patch, following, now)
                else:
                    patch.fields.update(terminal_fields(RunStatus.COMPLETED, None, now))
            self._write(patch, writes)
            self.run.steps[step_id] = record
            if stage_done and is_last:
                self.run.status = RunStatus.COMPLETED

    # -- marks: durable start of each attempt ---------------------------------

    def _add_marks(self, patch: RunPatch, stage_index: int, now: datetime) -> None:
        """Mark the steps of this stage (and, past pure stages, the next) as started.

        Runs out of attempts here rather than after another doomed try.
        """
        stages = self._wf().stages
        for stage in stages[stage_index:]:
            try:
                step_ids = self._step_ids(stage)
            except KeyError:
                return  # decided by a pure step's output we do not have yet
            if stage.pure:
                # Pure steps are cheap and safe to repeat: no crash accounting,
                # so a worker dying later never blames them.
                self._extend_order(patch, step_ids)
                continue
            for step_id in step_ids:
                if step_id in self.outputs:
                    continue
                previous = self.run.steps.get(step_id)
                attempts = (previous.attempts if previous else 0) + 1
                if attempts > self.config.step_max_attempts:
                    message = (
                        f"step {step_id} did not complete after "
                        f"{self.config.step_max_attempts} attempts"
                    )
                    if previous and previous.error:
                        message += f"; last error: {previous.error}"
                    else:
                        message += (
                            "; the worker running it stopped without reporting an error"
                            " (crash, timeout or out of memory)"
                        )
                    patch.fields.update(terminal_fields(RunStatus.FAILED, message, now))
                    patch.steps[step_id] = StepRecord(
                        status=StepStatus.FAILED,
                        attempts=attempts - 1,
                        started_at=previous.started_at if previous else None,
                        finished_at=now,
                        error=previous.error if previous else None,
                        usage=previous.usage if previous else None,
                        repairs=previous.repairs if previous else [],
                    )
                    self.pending_failure = message
                    return
                mark = StepRecord(
                    status=StepStatus.RUNNING,
                    attempts=attempts,
                    started_at=now,
                    error=previous.error if previous else None,
                    # Carried forward: the attempt's commit adds its own usage to it.
                    usage=previous.usage if previous else None,
                    repairs=previous.repairs if previous else [],
                )
                patch.steps[step_id] = mark
                self.marked.add(step_id)
            self._extend_order(patch, step_ids)
            return

    def _mark_now(self, stage_index: int, todo: list[str]) -> None:
        with self.lock:
            now = self.clock()
            patch = RunPatch(fields=self._lease_fields(now))
            self._add_marks(patch, stage_index, now)
            self._write(patch)

    def _extend_order(self, patch: RunPatch, step_ids: list[str]) -> None:
        order = list(self.run.step_order)
        added = [s for s in step_ids if s not in order]
        if added:
            order.extend(added)
            patch.fields["step_order"] = order
            self.run.step_order = order

    # -- failure and finishing ------------------------------------------------

    def _on_failure(self, failure: _StepFailed) -> Outcome:
        now = self.clock()
        message = describe(failure.cause)
        retry = failure.retriable and failure.attempt < self.config.step_max_attempts
        previous = self.run.steps.get(failure.step_id)
        record = StepRecord(
            status=StepStatus.RETRYING if retry else StepStatus.FAILED,
            attempts=failure.attempt,
            started_at=failure.started,
            finished_at=now,
            duration_ms=int((now - failure.started).total_seconds() * 1000),
            error=message,
            usage=total_usage(previous.usage if previous else None, failure.meter.usage),
            repairs=failure.meter.repairs,
        )
        if retry:
            with self.lock:
                self._write(RunPatch(fields=self._released(now), steps={failure.step_id: record}))
            raise RetryLater(f"step {failure.step_id} attempt {failure.attempt} failed: {message}")
        if failure.retriable:
            message = f"gave up after {failure.attempt} attempts: {message}"
        self._finish(RunStatus.FAILED, f"{failure.step_id}: {message}", {failure.step_id: record})
        return Outcome.FAILED

    def _finish(
        self,
        status: RunStatus,
        error: str | None,
        steps: dict[str, StepRecord] | None = None,
        *,
        claim: bool = False,
    ) -> None:
        now = self.clock()
        patch = RunPatch(fields=terminal_fields(status, error, now), steps=dict(steps or {}))
        writes = (
            []
            if status is RunStatus.COMPLETED
            else subject_status_writes(self.run, status, error, now)
        )
        with self.lock:
            self._write(patch, writes, claim=claim)
        self.run.status = status
        log.info("run finished", extra={"status": status.value})

    # -- writing, leases, fencing ---------------------------------------------

    def _write(self, patch: RunPatch, writes: Sequence[Write] = (), *, claim: bool = False) -> None:
        """One conditional commit; flushes buffered pure-step records along with it."""
        with self.lock:
            if self.buffer:
                patch.steps = {**self.buffer, **patch.steps}
            pending_failure = self.pending_failure
            if pending_failure is not None:
                writes = [
                    *writes,
                    *subject_status_writes(
                        self.run, RunStatus.FAILED, pending_failure, self.clock()
                    ),
                ]
            for attempt in range(3):
                try:
                    self.version = self.store.update(self.run.run_id, self.version, patch, writes)
                    break
                except StaleRun:
                    if claim or attempt == 2:
                        raise
                    self._reconcile()
            self.last_write = self.clock()
            self.buffer.clear()
            for key, value in patch.fields.items():
                setattr(self.run, key, value)
            self.run.steps.update(patch.steps)
            if pending_failure is not None:
                self.pending_failure = None
                self.stopped = Outcome.FAILED
                raise _Stop(Outcome.FAILED)

    def _reconcile(self) -> None:
        """After a stale write: carry on if the run is still ours, else stop."""
        fresh = self.store.load(self.run.run_id)
        if fresh is None:
            raise _Stop(Outcome.UNKNOWN_RUN)
        record = fresh.record
        if record.status is RunStatus.CANCELLED:
            log.info("run was cancelled; stopping")
            raise _Stop(Outcome.CANCELLED)
        if record.status.terminal:
            raise _Stop(Outcome.ALREADY_FINISHED)
        if record.lease_owner != self.owner:
            log.warning("lease was taken over by another delivery; stopping")
            raise _Stop(Outcome.LEASE_LOST)
        self.version = fresh.version

    def _check_still_ours(self) -> None:
        if self.stopped is not None:
            raise _Stop(self.stopped)

    def _heartbeat(self) -> None:
        """Renew the lease while a long step runs, so a live runner is never taken over."""
        interval = max(self.config.lease_seconds / 3, 0.05)
        while not self._done.wait(interval):
            with self.lock:
                now = self.clock()
                if (now - self.last_write).total_seconds() < interval:
                    continue
                try:
                    self._write(RunPatch(fields=self._lease_fields(now)))
                except _Stop as stop:
                    self.stopped = stop.outcome
                    return
                except StaleRun:
                    self.stopped = Outcome.LEASE_LOST
                    return
                except Exception:
                    log.exception("lease renewal failed; will try again")

    def _released(self, now: datetime) -> dict[str, Any]:
        """No lease, so a redelivery may take the run at once; the sweep looks later."""
        return {
            "lease_owner": None,
            "lease_expires_at": None,
            "watchdog_at": self._watchdog(now + self._redrive()),
        }

    def _lease_fields(self, now: datetime) -> dict[str, Any]:
        expires = now + timedelta(seconds=self.config.lease_seconds)
        return {"lease_expires_at": expires, "watchdog_at": self._watchdog(expires)}

    def _watchdog(self, at: datetime) -> datetime:
        return min(at, self.run.deadline_at)

    def _redrive(self) -> timedelta:
        return timedelta(seconds=self.config.redrive_after_seconds)

    # -- declarations ---------------------------------------------------------

    def _wf(self) -> Workflow[Any]:
        assert self.workflow is not None
        return self.workflow

    def _input(self) -> BaseModel:
        """The run's input, validated once per delivery rather than once per step."""
        if self._validated_input is None:
            self._validated_input = self._wf().input_model.model_validate(self.run.input)
        return self._validated_input

    def _stage_index(self, stage: Stage) -> int:
        return self._wf().stages.index(stage)

    def _first_open_stage(self, workflow: Workflow[Any]) -> int | None:
        for index, stage in enumerate(workflow.stages):
            try:
                step_ids = self._step_ids(stage)
            except KeyError:
                return index
            if any(s not in self.outputs for s in step_ids):
                return index
        return None

    def _step_ids(self, stage: Stage) -> list[str]:
        """The concrete step ids of a stage; KeyError if a fan-out is not decided yet."""
        if isinstance(stage, Step):
            return [stage.id]
        ctx: StepContext[Any] = StepContext(
            run_id=self.run.run_id,
            tenant_id=self.run.tenant_id,
            user_id=self.run.user_id,
            input=self._input(),
            now=self.clock(),
            attempt=0,
            outputs=dict(self.outputs),
            reader=self.store.read,
            deps=self.runner.deps,
            meter=StepMeter(),
        )
        return [stage.step_id(item) for item in stage.over(ctx)]
