"""The engine as one object: built once from its settings and adapters, its verbs as methods.

`shared.services` builds one per process from Firestore and Pub/Sub;
`shared.engine.testing` builds one on the in-memory store and a fake clock.
Both call this constructor, so a test exercises the wiring production runs.

The verbs are everything that changes a run: `start`, `cancel`, `resume`,
`deliver` (one Pub/Sub delivery: execute what is left), `signal` (end a
run's wait, `engine.waits`), `sweep` (the watchdog tick) and
`dead_lettered`. A new verb (rerunning from a step, handing runs over on
shutdown) is a method here, with
its mechanics in a module beside the others; callers never see the store,
the publisher, the clock or a setting.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from shared import tracing
from shared.engine.delivery import Clock, Outcome, utcnow
from shared.engine.handover import Handover, HandoverReport
from shared.engine.known_workflows import registry
from shared.engine.ledger import UsageLedger
from shared.engine.lifecycle import cancel_run, fail_dead_lettered, new_run, start_run
from shared.engine.live import LiveStore
from shared.engine.records import RunRecord, RunSource, Write
from shared.engine.rerun import RerunPlan, link_source, plan_rerun, rerun_record
from shared.engine.results import PendingResults, ResultPublisher, publish_pending
from shared.engine.resume import resume_run
from shared.engine.runner import Runner
from shared.engine.settings import EngineSettings
from shared.engine.slots import RunsAndSlots, TenantSlots
from shared.engine.store import EventPublisher, LoadedRun
from shared.engine.sweep import SweepHeartbeat, SweepReport, sweep
from shared.engine.waits import signal_run
from shared.engine.workflow import Workflow
from shared.errors import InvalidInput, NotFound
from shared.tracing import TraceContext

CANCELLED_ON_REQUEST = "cancelled on request"


class Engine:
    """The durable engine of one process; thread-safe, built once.

    - `store`: the runs, their domain documents and the tenants' slots (in
      production an `OutboxStore`, which also publishes every run's end);
    - `publisher`: asks for a run to be executed (the events topic);
    - `ledger`: charges each commit's new token usage (None: not charged);
    - `results` and `pending`: the results topic and the query of results
      whose publish was lost, which the sweep publishes (None: not swept);
    - `heartbeat`: where each sweep leaves its mark (None: nowhere);
    - `deps`: builds what workflow steps get as `ctx.deps`, given this
      engine (the `ops.*` workflows act on runs through it);
    - `workflows`: finds a run's workflow (the process-wide registry unless
      a test brings its own).
    """

    def __init__(
        self,
        store: RunsAndSlots,
        publisher: EventPublisher,
        *,
        settings: EngineSettings | None = None,
        clock: Clock = utcnow,
        ledger: UsageLedger | None = None,
        results: ResultPublisher | None = None,
        pending: PendingResults | None = None,
        heartbeat: SweepHeartbeat | None = None,
        deps: Callable[[Engine], object] | None = None,
        workflows: Callable[[str], Workflow[Any] | None] = registry.get,
        sleep: Callable[[float], None] = time.sleep,
        live: LiveStore | None = None,
    ) -> None:
        self.settings = settings or EngineSettings()
        # Where streamed model items are written as they come (`engine.live`).
        self.live = live
        self.store = store
        self.publisher = publisher
        self.clock = clock
        self.ledger = ledger
        self.results = results
        self.pending = pending
        self.heartbeat = heartbeat
        self.workflows = workflows
        self.sleep = sleep
        limit = self.settings.tenant_max_active_runs
        slots = None if limit is None else TenantSlots(store, publisher, limit, self.settings)
        self.deps = deps(self) if deps is not None else None
        # This process's deliveries in flight, handed over when it stops.
        self.handover = Handover(publisher)
        self._runner = Runner(
            store,
            settings=self.settings,
            clock=clock,
            deps=self.deps,
            workflows=workflows,
            slots=slots,
            ledger=ledger,
            sleep=sleep,
            handover=self.handover,
            live=live,
        )

    def with_settings(self, **changes: Any) -> Engine:
        """An engine on the same adapters and deps with some settings changed.

        For benchmarks that compare settings on one stack (a tenant limit or
        none); the deps are shared, so both use one model client.
        """
        shared_deps = self.deps
        return Engine(
            self.store,
            self.publisher,
            settings=dataclasses.replace(self.settings, **changes),
            clock=self.clock,
            ledger=self.ledger,
            results=self.results,
            pending=self.pending,
            heartbeat=self.heartbeat,
            deps=None if shared_deps is None else (lambda _engine: shared_deps),
            workflows=self.workflows,
            sleep=self.sleep,
            live=self.live,
        )

    # -- verbs ------------------------------------------------------------------

    def start(
        self,
        workflow: Workflow[Any],
        run_input: BaseModel,
        *,
        run_id: str,
        tenant_id: str,
        user_id: str,
        subject: str,
        writes: Sequence[Write] = (),
        now: datetime | None = None,
        source: RunSource = "http",
        event_id: str | None = None,
        event_name: str | None = None,
    ) -> RunRecord:
        """Create the run QUEUED with `writes` (its subject among them) in one commit; publish it.

        `now` is the creation time the caller also stamped on its documents;
        `source` what started it (a trigger's run keeps the event's id and
        name, and its result carries them).
        Raises RunExists when the run or a created document is already
        there. A lost publish is the sweep's to repair (the run is durable
        with a watchdog time); the run is counted in its tenant's usage.
        """
        attributes = {"genjobs.run_id": run_id, "genjobs.workflow": workflow.id}
        # The run's trace is this span's: the caller's request (or trigger
        # event) when there is one, a new trace otherwise.
        with tracing.span("create run", attributes=attributes) as created:
            run = new_run(
                workflow,
                run_input,
                run_id=run_id,
                tenant_id=tenant_id,
                user_id=user_id,
                subject=subject,
                now=now or self.clock(),
                settings=self.settings,
                source=source,
                event_id=event_id,
                event_name=event_name,
                trace=created.context,
            )
            start_run(self.store, self.publisher, run, writes)
        return run

    def cancel(
        self, run: LoadedRun | str | None, *, reason: str = CANCELLED_ON_REQUEST
    ) -> RunRecord | None:
        """Cancel a run that has not finished; None if it does not exist (any more).

        Raises AlreadyFinished if it ended. The runner notices at its next
        commit and stops before another step's effects land.
        """
        loaded = self.store.load(run) if isinstance(run, str) else run
        return cancel_run(self.store, loaded, self.clock(), reason)

    def resume(
        self, run: LoadedRun | str, *, by: str, operation_id: str | None = None
    ) -> RunRecord:
        """Queue a FAILED or CANCELLED run again; its completed steps are replayed, not redone.

        Raises NotResumable if it is in another status, NotFound if it does not exist.
        """
        loaded = self.store.load(run) if isinstance(run, str) else run
        if loaded is None:
            raise NotFound("run not found")
        return resume_run(
            self.store,
            self.publisher,
            loaded,
            by=by,
            now=self.clock(),
            settings=self.settings,
            operation_id=operation_id,
        )

    def plan_rerun(
        self,
        source: LoadedRun,
        from_step: str,
        overrides: dict[str, Any],
        *,
        assigned: Sequence[str] = (),
    ) -> RerunPlan:
        """Check a rerun of `source` from `from_step` with `overrides`; nothing is written.

        Raises Conflict while the source has not finished, InvalidInput for
        an unknown step, an override a reused step consumed or one of the
        `assigned` fields (the caller's subject ids), or input the
        workflow's input model refuses. See `engine.rerun`.
        """
        workflow = self.workflows(source.record.workflow)
        if workflow is None:
            raise InvalidInput(f"workflow {source.record.workflow!r} is not deployed here")
        return plan_rerun(workflow, source.record, from_step, overrides, assigned=assigned)

    def rerun(
        self,
        plan: RerunPlan,
        run_input: BaseModel,
        *,
        run_id: str,
        user_id: str,
        subject: str,
        writes: Sequence[Write] = (),
        now: datetime | None = None,
    ) -> RunRecord:
        """Create the planned rerun QUEUED with `writes` (its new subject), one commit; publish.

        `run_input` is the plan's input with the caller's subject ids set.
        The new run starts with the plan's reused checkpoints and `rerunOf`;
        the source's `reruns` gains it. Raises RunExists as `start` does.
        """
        workflow = self.workflows(plan.source.workflow)
        if workflow is None:
            raise InvalidInput(f"workflow {plan.source.workflow!r} is not deployed here")
        at = now or self.clock()
        attributes = {
            "genjobs.run_id": run_id,
            "genjobs.workflow": workflow.id,
            "genjobs.rerun_of": plan.source.run_id,
        }
        # A rerun is a run of its own: a trace of its own (the request's).
        with tracing.span("create run", attributes=attributes) as created:
            run = new_run(
                workflow,
                run_input,
                run_id=run_id,
                tenant_id=plan.source.tenant_id,
                user_id=user_id,
                subject=subject,
                now=at,
                settings=self.settings,
                trace=created.context,
            )
            run = rerun_record(plan, run)
            start_run(self.store, self.publisher, run, writes)
            link_source(self.store, plan.source.run_id, run_id, at)
        return run

    def deliver(self, run_id: str, via: TraceContext | None = None) -> Outcome:
        """Execute what is left of the run (one Pub/Sub delivery).

        `via`: the trace context the message carried (its publish span); the
        delivery's spans join the run's trace either way. Raises RetryLater
        when Pub/Sub should deliver it again.
        """
        return self._runner.run(run_id, via)

    def signal(
        self,
        run: LoadedRun | str | None,
        name: str,
        payload: Mapping[str, Any] | BaseModel,
        *,
        tenant_id: str | None = None,
        event_id: str | None = None,
    ) -> RunRecord:
        """Deliver signal `name` to a run waiting for it; the first that commits wins.

        The run continues at once (published) with the payload as the wait
        step's output, or ends CANCELLED if its wait says so. Raises NotFound
        (no such run, another tenant's when `tenant_id` is given, or no such
        signal), InvalidInput (the payload does not fit), Conflict (the run
        is not waiting for it: not yet, or not any more). Nothing changes then.
        """
        loaded = self.store.load(run) if isinstance(run, str) else run
        return signal_run(
            self.store,
            self.publisher,
            loaded,
            self.workflows,
            name,
            payload,
            now=self.clock(),
            settings=self.settings,
            deps=self.deps,
            tenant_id=tenant_id,
            event_id=event_id,
        )

    def sweep(self, now: datetime | None = None) -> SweepReport:
        """The watchdog's tick: fail runs past their deadline, re-publish lost ones,
        end waits whose timeout came.

        Also publishes results whose publish was lost (once their transition
        has had `redrive_after` to publish its own) and leaves the heartbeat.
        `now` sweeps as of another time (tests); the clock's by default.
        """
        at = now or self.clock()
        report = sweep(self.store, self.publisher, now=at, settings=self.settings)
        if self.results is not None and self.pending is not None:
            published = publish_pending(
                self.pending,
                self.store,
                self.results,
                now=at,
                grace=self.settings.redrive_after,
            )
            report = dataclasses.replace(report, results=published)
        if self.heartbeat is not None:
            self.heartbeat.swept(at, report)
        return report

    def hand_over(self) -> HandoverReport:
        """The instance is stopping (SIGTERM): hand every run in flight to another instance.

        No delivery starts from now on (one that arrives is published again
        and acknowledged); each in flight is released once a commit under
        way has landed, published, and its push answered 2xx. Returns when
        every push in flight has its answer (`engine.handover`).
        """
        return self.handover.hand_over()

    def dead_lettered(self, run_id: str, delivery_count: int) -> bool:
        """Pub/Sub gave up delivering the run: fail it with a reason; False if left alone."""
        return fail_dead_lettered(self.store, run_id, delivery_count, self.clock())
