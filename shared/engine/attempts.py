"""Attempt accounting: each step attempt's start is durable before it runs.

A worker that dies mid-step reports nothing, so the only way to count its
attempt is to have recorded the attempt first. Marks ride on the commit
before the stage (the previous step's checkpoint, or the claim), so they
cost no extra write; a step found out of attempts when marking fails the run
in that same commit instead of running once more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.engine.meter import StepMeter
from shared.engine.plan import RunPlan
from shared.engine.records import (
    MAX_ATTEMPT_HISTORY,
    AttemptRecord,
    RunRecord,
    StepRecord,
    StepStatus,
    total_usage,
)
from shared.engine.settings import EngineSettings
from shared.engine.store import RunPatch
from shared.engine.workflow import Wait
from shared.errors import CheckpointFailed, NonRetriableError, RateLimited, describe


@dataclass
class StepFailure:
    """One step attempt that raised."""

    step_id: str
    cause: BaseException
    started: datetime
    attempt: int
    meter: StepMeter

    @property
    def retriable(self) -> bool:
        if isinstance(self.cause, CheckpointFailed):
            return self.cause.retriable
        return not isinstance(self.cause, NonRetriableError)

    @property
    def message(self) -> str:
        return describe(self.cause)

    @property
    def waits(self) -> float | None:
        """Seconds to wait out a rate limit, if that is what stopped the attempt."""
        return self.cause.wait_seconds if isinstance(self.cause, RateLimited) else None


class Attempts:
    def __init__(self, run: RunRecord, plan: RunPlan, settings: EngineSettings) -> None:
        self.run = run
        self.plan = plan
        self.settings = settings
        # Steps whose start of this attempt is durable.
        self.marked: set[str] = set()

    def number(self, step_id: str) -> int:
        """The attempt a step is about to make (already counted if it was marked)."""
        previous = self.run.steps.get(step_id)
        if previous is None:
            return 1
        return previous.attempts if step_id in self.marked else previous.attempts + 1

    def unmarked(self, step_ids: list[str]) -> bool:
        return any(s not in self.marked for s in step_ids)

    def add_marks(self, patch: RunPatch, stage_index: int, now: datetime) -> str | None:
        """Mark the steps of this stage (and, past pure stages, the next) as started.

        Returns the run's failure message if a step is out of attempts (its
        FAILED record is in the patch then).
        """
        for stage in self.plan.stages[stage_index:]:
            try:
                step_ids = self.plan.step_ids(stage, now)
            except KeyError:
                return None  # decided by a pure step's output we do not have yet
            if isinstance(stage, Wait):
                # A wait is never re-executed for a crash (nothing runs while it
                # waits), and nothing after it starts before it has ended.
                self.extend_order(patch, step_ids)
                return None
            if stage.pure:
                # Pure steps are cheap and safe to repeat: no crash accounting,
                # so a worker dying later never blames them.
                self.extend_order(patch, step_ids)
                continue
            for step_id in step_ids:
                if step_id in self.plan.outputs:
                    continue
                failure = self._mark(patch, step_id, now)
                if failure is not None:
                    return failure
            self.extend_order(patch, step_ids)
            return None
        return None

    def _mark(self, patch: RunPatch, step_id: str, now: datetime) -> str | None:
        previous = self.run.steps.get(step_id)
        attempts = (previous.attempts if previous else 0) + 1
        if previous is not None and previous.status is StepStatus.COMPLETED:
            # Run again because a deploy made its checkpoint unreadable: a
            # fresh count of attempts (the new code's), not the old one's.
            attempts = 1
        carried = {
            "error": previous.error if previous else None,
            # Carried forward: the attempt's own commit adds its usage to it.
            "usage": previous.usage if previous else None,
            "repairs": previous.repairs if previous else [],
            "model": previous.model if previous else None,
            "failed_models": previous.failed_models if previous else [],
            "reads": previous.reads if previous else [],
            "history": _history(previous),
        }
        if attempts <= self.settings.step_max_attempts:
            patch.steps[step_id] = StepRecord(
                status=StepStatus.RUNNING, attempts=attempts, started_at=now, **carried
            )
            self.marked.add(step_id)
            return None
        limit = self.settings.step_max_attempts
        message = f"step {step_id} did not complete after {limit} attempts"
        if previous and previous.error:
            message += f"; last error: {previous.error}"
        else:
            message += (
                "; the worker running it stopped without reporting an error"
                " (crash, timeout or out of memory)"
            )
        patch.steps[step_id] = StepRecord(
            status=StepStatus.FAILED,
            attempts=attempts - 1,
            started_at=previous.started_at if previous else None,
            finished_at=now,
            **carried,
        )
        return message

    def extend_order(self, patch: RunPatch, step_ids: list[str]) -> None:
        order = list(self.run.step_order)
        added = [s for s in step_ids if s not in order]
        if added:
            order.extend(added)
            patch.fields["step_order"] = order
            self.run.step_order = order

    def completed(
        self,
        step_id: str,
        checkpoint: str,
        *,
        attempt: int,
        started: datetime,
        now: datetime,
        meter: StepMeter,
    ) -> StepRecord:
        previous = self.run.steps.get(step_id)
        return StepRecord(
            status=StepStatus.COMPLETED,
            attempts=attempt,
            started_at=started,
            finished_at=now,
            duration_ms=_millis(started, now),
            # The most recent failed attempt's error stays readable.
            error=previous.error if previous else None,
            output=checkpoint,
            usage=total_usage(previous.usage if previous else None, meter.usage),
            repairs=meter.repairs,
            model=meter.model,
            failed_models=meter.failed_models,
            reads=meter.reads,
            history=_history(
                previous,
                AttemptRecord(
                    attempt=attempt,
                    status=StepStatus.COMPLETED.value,
                    started_at=started,
                    finished_at=now,
                    duration_ms=_millis(started, now),
                    model_calls=meter.calls,
                ),
            ),
        )

    def will_retry(self, failure: StepFailure) -> bool:
        return failure.retriable and failure.attempt < self.settings.step_max_attempts

    def failed(self, failure: StepFailure, now: datetime, *, retry: bool) -> StepRecord:
        previous = self.run.steps.get(failure.step_id)
        return StepRecord(
            status=StepStatus.RETRYING if retry else StepStatus.FAILED,
            # Waiting out a rate limit is not an attempt: it is given back.
            attempts=failure.attempt - (1 if failure.waits is not None else 0),
            started_at=failure.started,
            finished_at=now,
            duration_ms=_millis(failure.started, now),
            error=failure.message,
            usage=total_usage(previous.usage if previous else None, failure.meter.usage),
            repairs=failure.meter.repairs,
            model=failure.meter.model,
            failed_models=failure.meter.failed_models,
            reads=failure.meter.reads,
            history=_history(
                previous,
                AttemptRecord(
                    attempt=failure.attempt,
                    status=_ended(failure, retry),
                    started_at=failure.started,
                    finished_at=now,
                    duration_ms=_millis(failure.started, now),
                    error=failure.message,
                    model_calls=failure.meter.calls,
                ),
            ),
        )


def _ended(failure: StepFailure, retry: bool) -> str:
    """How a failed attempt shows in the history: RATE_LIMITED attempts are given back."""
    if failure.waits is not None:
        return "RATE_LIMITED"
    return (StepStatus.RETRYING if retry else StepStatus.FAILED).value


def _history(
    previous: StepRecord | None, ended: AttemptRecord | None = None
) -> list[AttemptRecord]:
    """The step's attempts so far, with `ended` added (the latest MAX_ATTEMPT_HISTORY).

    An attempt still marked RUNNING when the next one is marked or recorded
    never reported: its worker stopped (crash, timeout, out of memory), so
    it is kept as LOST, from its start, with no end.
    """
    history = list(previous.history) if previous else []
    if (
        previous is not None
        and previous.status is StepStatus.RUNNING
        and previous.attempts > 0
        and not any(h.attempt == previous.attempts for h in history)
        and (ended is None or ended.attempt != previous.attempts)
    ):
        history.append(
            AttemptRecord(attempt=previous.attempts, status="LOST", started_at=previous.started_at)
        )
    if ended is not None:
        history.append(ended)
    return history[-MAX_ATTEMPT_HISTORY:]


def _millis(start: datetime, end: datetime) -> int:
    return int((end - start).total_seconds() * 1000)
