"""What a delivery commits, and when: the claim, attempt marks, checkpoints, failures, the end.

Each commit goes through the fence (conditional on the run's version) and
carries as much as it can: a step's checkpoint also renews the lease and
marks the next stage's attempts; a pure step's record waits for the next
commit; the last checkpoint also completes the run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from shared.engine.attempts import Attempts, StepFailure
from shared.engine.delivery import Outcome, Stop
from shared.engine.fencing import RunFence
from shared.engine.plan import RunPlan
from shared.engine.records import (
    INLINE_OUTPUT_BYTES,
    RUN_OUTPUTS_BUDGET,
    RunStatus,
    StepRecord,
    StepStatus,
    Write,
    checkpoint_bytes,
)
from shared.engine.store import RunPatch
from shared.engine.transitions import FailureReason, subject_status_writes, terminal_fields
from shared.engine.workflow import Stage
from shared.errors import CheckpointFailed, RetryLater, StaleRun

log = logging.getLogger(__name__)


def finish_run(
    fence: RunFence,
    status: RunStatus,
    error: str | None,
    steps: dict[str, StepRecord] | None = None,
    *,
    claim: bool = False,
    reason: FailureReason | None = None,
) -> None:
    """End the run; FAILED and CANCELLED also mark its subject document."""
    now = fence.clock()
    patch = RunPatch(fields=terminal_fields(status, error, now), steps=dict(steps or {}))
    writes = (
        []
        if status is RunStatus.COMPLETED
        else subject_status_writes(fence.run, status, error, now)
    )
    with fence.lock:
        fence.write(patch, writes, claim=claim)
    log.info("run finished", extra={"status": status.value, "reason": reason})


class Commits:
    def __init__(self, fence: RunFence, plan: RunPlan, attempts: Attempts) -> None:
        self.fence = fence
        self.plan = plan
        self.attempts = attempts
        # The tenant slot's release (`TenantSlots.release_write`), to ride on
        # the commit that completes the run; `released` once it has.
        self.release: Write | None = None
        self.released = False

    def claim(self, fields: dict[str, Any] | None = None, writes: Sequence[Write] = ()) -> None:
        """Take the lease, count the delivery, and mark the first open stage's attempts.

        `fields` and `writes` ride along (a tenant slot taken with the claim).
        """
        fence, run = self.fence, self.fence.run
        self.plan.replay()
        now = fence.clock()
        patch = RunPatch(
            fields={
                "status": RunStatus.RUNNING,
                "started_at": run.started_at or now,
                "lease_owner": fence.owner,
                "deliveries": run.deliveries + 1,
                **fence.lease_fields(now),
                **(fields or {}),
            }
        )
        first = self.plan.first_open_stage(now)
        fails = None if first is None else self.attempts.add_marks(patch, first, now)
        fence.write(patch, writes, claim=True, fails_run=fails)

    def mark(self, stage_index: int) -> None:
        """Make this stage's attempts durable (when no earlier commit carried the marks)."""
        with self.fence.lock:
            now = self.fence.clock()
            patch = RunPatch(fields=self.fence.lease_fields(now))
            fails = self.attempts.add_marks(patch, stage_index, now)
            self.fence.write(patch, fails_run=fails)

    def step_completed(
        self,
        stage: Stage,
        step_id: str,
        record: StepRecord,
        output: BaseModel,
        writes: Sequence[Write],
    ) -> None:
        """The step's writes and checkpoint in one commit, with what the next stage needs.

        Raises `CheckpointFailed` when the store fails the commit (anything
        but a fence's stop), so the failure is the step's, not the delivery's.
        """
        fence, plan = self.fence, self.plan
        with fence.lock:
            record = self._placed(step_id, record).model_copy(update={"effects": bool(writes)})
            plan.outputs[step_id] = output
            now = fence.clock()
            stage_done = plan.stage_done(stage, now)
            is_last = plan.is_last(stage)
            if stage.pure and not writes and not (is_last and stage_done):
                fence.buffer[step_id] = record
                fence.run.steps[step_id] = record
                return
            patch = RunPatch(fields=fence.lease_fields(now), steps={step_id: record})
            fails = None
            if stage_done and not is_last:
                fails = self.attempts.add_marks(patch, plan.index(stage) + 1, now)
            release = None
            if stage_done and is_last:
                patch.fields.update(terminal_fields(RunStatus.COMPLETED, None, now))
                release = self.release
            try:
                self._write(patch, writes, fails, release)
            except (Stop, StaleRun):
                raise
            except Exception as exc:
                if self._landed(step_id, record, patch):
                    log.warning("the step's commit reported an error but landed: %s", exc)
                    if fails is not None:  # that commit ended the run (see RunFence.write)
                        fence.stopped = Outcome.FAILED
                        raise Stop(Outcome.FAILED) from None
                    return
                del plan.outputs[step_id]
                raise CheckpointFailed(exc) from exc

    def _write(
        self, patch: RunPatch, writes: Sequence[Write], fails: str | None, release: Write | None
    ) -> None:
        """The step's commit; the completing one gives the tenant slot back in it too."""
        if release is None:
            self.fence.write(patch, writes, fails_run=fails)
            return
        try:
            self.fence.write(patch, [*writes, release], fails_run=fails)
        except StaleRun:
            # The run is still ours (the fence judged it) but the slot is not:
            # taken over while our lease had lapsed. Complete without it.
            self.release = None
            self.fence.write(patch, writes, fails_run=fails)
            return
        self.released = True

    def _placed(self, step_id: str, record: StepRecord) -> StepRecord:
        """The record with its output beside the run when the run document cannot hold it.

        Kept inline (no extra write) while it is small and the run's records
        stay within their budget; a long run's later outputs go beside it.
        """
        if record.output is None:
            return record
        others = sum(r.inline_bytes() for s, r in self.fence.run.steps.items() if s != step_id)
        size = checkpoint_bytes(record.output)
        if size > INLINE_OUTPUT_BYTES or others + record.inline_bytes() > RUN_OUTPUTS_BUDGET:
            return record.model_copy(update={"output_external": True})
        return record

    def _landed(self, step_id: str, record: StepRecord, patch: RunPatch) -> bool:
        """Whether a commit that raised (a timeout, say) was applied after all.

        Recording a failure over a checkpoint that did land would run the
        step, and pay for its model calls, once more.
        """
        fence = self.fence
        try:
            fresh = fence.store.load(fence.run.run_id)
        except Exception:
            return False
        stored = None if fresh is None else fresh.record.steps.get(step_id)
        if (
            fresh is None
            or stored is None
            or fresh.record.lease_owner != fence.owner
            or stored.status is not StepStatus.COMPLETED
            or stored.started_at != record.started_at
        ):
            return False
        fence.version = fresh.version
        fence.applied(patch)
        return True

    def park(self, patch: RunPatch, writes: Sequence[Write]) -> None:
        """Commit the run WAITING (`waits.park_patch`) with the wait's writes; the run is
        no longer ours: the heartbeat stops and nothing else of this delivery lands."""
        fence = self.fence
        with fence.lock:
            fence.write(patch, writes)
            fence.stopped = Outcome.WAITING
        log.info("run parked waiting", extra={"step": next(iter(patch.steps), None)})

    def step_failures(self, failures: list[StepFailure]) -> Outcome:
        """Record every failed step of the stage; retry the run or end it FAILED.

        The first non-retriable failure, else the first failure, decides.
        """
        fence = self.fence
        now = fence.clock()
        waits = [f.waits for f in failures]
        if all(w is not None for w in waits):
            return self._wait_out_rate_limit(failures, max(w or 0.0 for w in waits))
        primary = next((f for f in failures if not f.retriable), failures[0])
        retry = self.attempts.will_retry(primary)
        steps = {f.step_id: self.attempts.failed(f, now, retry=retry) for f in failures}
        if retry:
            with fence.lock:
                fence.write(RunPatch(fields=fence.released(now), steps=steps))
            raise RetryLater(
                f"step {primary.step_id} attempt {primary.attempt} failed: {primary.message}"
            )
        message = primary.message
        if primary.retriable:
            message = f"gave up after {primary.attempt} attempts: {message}"
        reason = FailureReason.NON_RETRIABLE
        if primary.retriable:
            reason = FailureReason.ATTEMPTS_EXHAUSTED
        finish_run(fence, RunStatus.FAILED, f"{primary.step_id}: {message}", steps, reason=reason)
        return Outcome.FAILED

    def _wait_out_rate_limit(self, failures: list[StepFailure], seconds: float) -> Outcome:
        """Hand the run back until the rate limit is over, the attempts given back.

        Acknowledged rather than nacked: Pub/Sub's redelivery would come at
        once (the emulator ignores backoff) or on its own schedule; the run's
        watchdog is set to the end of the wait, so the sweep publishes it
        then. The deadline still bounds how long a run may wait.
        """
        fence = self.fence
        now = fence.clock()
        steps = {f.step_id: self.attempts.failed(f, now, retry=True) for f in failures}
        fields = fence.released(now)
        fields["watchdog_at"] = fence.watchdog(now + timedelta(seconds=seconds))
        with fence.lock:
            fence.write(RunPatch(fields=fields, steps=steps))
        log.warning(
            "rate-limited; the run waits %.1f s without spending an attempt",
            seconds,
            extra={"step": failures[0].step_id},
        )
        return Outcome.RATE_LIMITED
