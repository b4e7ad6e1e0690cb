"""The engine's test kit: run workflows in milliseconds, without Java, Firestore or Pub/Sub.

For workflow authors as much as for the engine's own tests (the shape of
DBOS's in-memory test backend or Temporal's testing module). The shortest
test of a workflow:

    finished = run_workflow(my_workflow, MyInput(...), documents={...})
    assert finished.status is RunStatus.COMPLETED
    assert finished.writes["things/thing-1"]["title"] == ...

The parts:

- `run_workflow`: start a run and deliver it until it ends; the run, its
  steps and the documents it wrote come back as `Finished`.
- `ScriptedModel`: a `LanguageModel` that answers from a script (values,
  or exceptions to raise, in order or per answer schema) and otherwise with
  a schema-valid placeholder; it records every call.

- `InMemoryRunStore`: runs and documents in dicts, with Firestore's
  preconditions. `tests/test_run_store_contract.py` runs the same cases
  against it and the Firestore store, so the two cannot drift apart.
- `FakeClock`: time moves only when the test says so (`advance`), so
  leases, deadlines and the sweep's watchdog are tested without sleeping.
- `EngineHarness`: an `Engine` built by the same constructor production
  uses, on the parts above and a publisher that lists what it published;
  `start`, `deliver`, `signal`, `sweep`, `cancel`, `resume` as in
  production, plus `run_to_end` and, for waits, `run_to_wait` and
  `pass_wait` (moves the clock past the wait's timeout and sweeps). A short
  sleep moves the fake clock instead of sleeping. To test a crash, a retry
  or a lease, drive it delivery by delivery and move its clock.

A delivery here is exactly a worker's delivery (the same `Engine.deliver`);
only the storage, the transport and the model are in memory. This module
sits in the engine's namespace but above the whole stack: it wires the
engine to workflow deps and a model, as `shared.services` does (the
import-linter contract names that exception).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel

from shared.engine.delivery import Outcome
from shared.engine.engine import CANCELLED_ON_REQUEST, Engine
from shared.engine.records import RunRecord, RunStatus, StepRecord, Write
from shared.engine.settings import EngineSettings
from shared.engine.slots import Slot
from shared.engine.store import LoadedRun, RunPatch
from shared.engine.sweep import SweepReport
from shared.engine.workflow import Workflow
from shared.errors import RetryLater, RunExists, StaleRun
from shared.llm.interface import Generation, LanguageModel, T, UsageSink
from shared.llm.offline_model import placeholder
from shared.workflows.deps import WorkflowDeps

__all__ = [
    "RETRY",
    "SCRIPTED_MODEL_NAME",
    "Answer",
    "EngineHarness",
    "FakeClock",
    "Finished",
    "InMemoryRunStore",
    "ListHeartbeat",
    "ListPublisher",
    "ModelCall",
    "ScriptedModel",
    "run_workflow",
]

M = TypeVar("M", bound=BaseModel)

# What `EngineHarness.deliver` answers when the worker would answer 500 (Pub/Sub redelivers).
RETRY = "RETRY"
# The `aiModel` of documents written from a `ScriptedModel`'s answers.
SCRIPTED_MODEL_NAME = "scripted"


class FakeClock:
    """A settable `Clock`: time moves only when a test says so."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)


def _merge(into: dict[str, Any], data: dict[str, Any]) -> None:
    """Firestore's `set(merge=True)`: maps merge key by key, anything else is replaced."""
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def _increment(into: dict[str, Any], data: dict[str, Any]) -> None:
    """Firestore's increments: numbers are added, maps added into key by key, the rest set."""
    for key, value in data.items():
        if isinstance(value, dict):
            nested = into.get(key)
            if not isinstance(nested, dict):
                nested = into[key] = {}
            _increment(nested, value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            into[key] = into.get(key, 0) + value
        else:
            into[key] = copy.deepcopy(value)


class InMemoryRunStore:
    """Runs and domain documents in dicts; every change is conditional as in Firestore.

    A version is the number of the commit that last wrote a document (as
    Firestore's update time is the commit's time); an update at another
    version (or of a missing run) raises `StaleRun` and changes nothing, as
    does a conditional `update`/`delete` write of a changed document. A
    `create` of an existing document raises `RunExists`. `updates` counts the
    run commits that landed, `writes` every document written or deleted,
    `written[run_id]` the paths of the documents each run's commits wrote.
    It is also the `SlotStore` of tenant slots (`engine.slots`).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, tuple[dict[str, Any], int]] = {}
        self.documents: dict[str, dict[str, Any]] = {}
        self._versions: dict[str, int] = {}
        self._commits = 0
        self.updates = 0
        self.writes = 0
        self.written: dict[str, list[str]] = {}

    def create(self, run: RunRecord, writes: Sequence[Write]) -> None:
        with self._lock:
            if run.run_id in self._runs or any(
                w.mode == "create" and w.path in self.documents for w in writes
            ):
                raise RunExists(run.run_id)
            self._commits += 1
            self._apply(writes, run.run_id)
            self._runs[run.run_id] = (run.model_dump(by_alias=True), self._commits)
            self.writes += 1

    def load(self, run_id: str) -> LoadedRun | None:
        with self._lock:
            stored = self._runs.get(run_id)
            if stored is None:
                return None
            data, version = stored
            return LoadedRun(record=RunRecord.model_validate(copy.deepcopy(data)), version=version)

    def update(
        self, run_id: str, version: object, patch: RunPatch, writes: Sequence[Write] = ()
    ) -> object:
        with self._lock:
            stored = self._runs.get(run_id)
            if stored is None or stored[1] != version:
                raise StaleRun(run_id)
            if any(w.mode == "create" and w.path in self.documents for w in writes):
                raise RunExists(run_id)
            if any(not self._unchanged(w) for w in writes):
                raise StaleRun(run_id)
            data = copy.deepcopy(stored[0])
            # Patch fields hold what Firestore would store (dicts for nested
            # records), so they are merged into the stored data and validated
            # together, as a Firestore read of the committed document would be.
            for name, value in patch.fields.items():
                data[RunRecord.model_fields[name].alias or name] = value
            record = RunRecord.model_validate(data)
            record.steps.update(patch.steps)
            self._commits += 1
            self._apply(writes, run_id)
            self._runs[run_id] = (record.model_dump(by_alias=True), self._commits)
            self.updates += 1
            self.writes += 1
            return self._commits

    def read(self, path: str) -> dict[str, Any] | None:
        with self._lock:
            doc = self.documents.get(path)
            return copy.deepcopy(doc) if doc is not None else None

    def merge_document(self, path: str, data: dict[str, Any]) -> None:
        """`engine.live.LiveStore`: one unconditional merge, outside any run commit."""
        with self._lock:
            self._commits += 1
            self._apply([Write(path=path, data=data, mode="merge")])

    def due(self, now: datetime, limit: int) -> list[LoadedRun]:
        with self._lock:
            runs = [
                (RunRecord.model_validate(copy.deepcopy(data)), version)
                for data, version in self._runs.values()
            ]
        found = [
            LoadedRun(record=record, version=version)
            for record, version in runs
            if record.status in (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING)
            and record.watchdog_at is not None
            and record.watchdog_at <= now
        ]
        found.sort(key=lambda loaded: loaded.record.watchdog_at or now)
        return found[:limit]

    def _unchanged(self, write: Write) -> bool:
        """A conditional write's document is still at the version it names (and exists)."""
        if write.mode == "update":
            return write.path in self.documents and (
                write.if_version is None or self._versions.get(write.path) == write.if_version
            )
        if write.mode == "delete" and write.if_version is not None:
            return bool(self._versions.get(write.path) == write.if_version)
        return True

    def _apply(self, writes: Sequence[Write], run_id: str | None = None) -> None:
        for write in writes:
            self.writes += 1
            if run_id is not None:
                paths = self.written.setdefault(run_id, [])
                if write.path not in paths:
                    paths.append(write.path)
            if write.mode == "delete":
                self.documents.pop(write.path, None)
                self._versions.pop(write.path, None)
                continue
            if write.mode == "increment":
                _increment(self.documents.setdefault(write.path, {}), write.data)
            elif write.mode in ("merge", "update") and write.path in self.documents:
                _merge(self.documents[write.path], write.data)
            else:
                self.documents[write.path] = copy.deepcopy(write.data)
            self._versions[write.path] = self._commits

    # -- SlotStore ------------------------------------------------------------

    def slot_path(self, tenant_id: str, index: int) -> str:
        return f"tenants/{tenant_id}/slots/{index}"

    def slots(self, tenant_id: str) -> list[Slot]:
        prefix = f"tenants/{tenant_id}/slots/"
        with self._lock:
            return [
                Slot(int(path[len(prefix) :]), doc["runId"], self._versions[path])
                for path, doc in self.documents.items()
                if path.startswith(prefix)
            ]

    def release_slot(self, tenant_id: str, index: int, version: object) -> bool:
        return self._delete_at(self.slot_path(tenant_id, index), version)

    def _delete_at(self, path: str, version: object) -> bool:
        """Delete the document if it is still at `version` (a conditional delete's commit)."""
        with self._lock:
            if self._versions.get(path) != version:
                return False
            self._commits += 1
            self._apply([Write(path=path, data={}, mode="delete")])
            return True

    def line_path(self, tenant_id: str) -> str:
        return f"tenants/{tenant_id}/line/marker"

    def line(self, tenant_id: str) -> object | None:
        with self._lock:
            return self._versions.get(self.line_path(tenant_id))

    def close_line(self, tenant_id: str, version: object) -> bool:
        return self._delete_at(self.line_path(tenant_id), version)

    def next_waiting(self, tenant_id: str) -> LoadedRun | None:
        with self._lock:
            waiting = [
                (RunRecord.model_validate(copy.deepcopy(data)), version)
                for data, version in self._runs.values()
            ]
        lined = [
            (record.slot_queue, record.run_id, version)
            for record, version in waiting
            if record.tenant_id == tenant_id and record.slot_queue is not None
        ]
        if not lined:
            return None
        _, run_id, _ = min(lined)
        return self.load(run_id)


class ListPublisher:
    """The events topic: the ids of the runs asked to be executed, in order."""

    def __init__(self) -> None:
        self.published: list[str] = []

    def publish_run(self, run_id: str, workflow: str) -> None:
        self.published.append(run_id)


class ListHeartbeat:
    """The sweep's heartbeat: when each tick ran and what it did."""

    def __init__(self) -> None:
        self.sweeps: list[tuple[datetime, SweepReport]] = []

    def swept(self, at: datetime, report: SweepReport) -> None:
        self.sweeps.append((at, report))


@dataclass(frozen=True)
class Finished:
    """A run that has ended, as `EngineHarness.run_to_end` leaves it."""

    run: RunRecord
    # The step records in the order the steps first ran.
    steps: dict[str, StepRecord]
    # The documents the run's commits wrote, as they are now (path -> document).
    writes: dict[str, dict[str, Any]]
    deliveries: int

    @property
    def status(self) -> RunStatus:
        return self.run.status

    def output(self, step_id: str, model: type[M]) -> M:
        """A completed step's checkpointed output, parsed as `model`."""
        output = self.steps[step_id].output
        if output is None:
            raise KeyError(f"step {step_id} has no output ({self.steps[step_id].status})")
        return model.model_validate_json(output)


# Outcomes after which another delivery would do nothing.
_ENDED = {Outcome.COMPLETED, Outcome.FAILED, Outcome.CANCELLED, Outcome.ALREADY_FINISHED}


class EngineHarness:
    """An `Engine` on the in-memory store, a fake clock and list publishers.

    Workflows are given to `start` and known to this harness only (the
    process-wide registry, which the api lists, is left alone). Steps get
    `model` through `llm(ctx)` (a `ScriptedModel` unless told otherwise);
    `deps` replaces what steps get as `ctx.deps` altogether, as
    `shared.services` builds it. Replacing `settings` rebuilds the engine.
    """

    def __init__(
        self,
        settings: EngineSettings | None = None,
        *,
        store: InMemoryRunStore | None = None,
        clock: FakeClock | None = None,
        model: LanguageModel | None = None,
        deps: Callable[[Engine], object] | None = None,
    ) -> None:
        self.model = model if model is not None else ScriptedModel()
        if deps is None:
            language_model = self.model

            def deps(engine: Engine) -> object:
                return WorkflowDeps(lambda: language_model)

        self.store = store if store is not None else InMemoryRunStore()
        self.clock = clock if clock is not None else FakeClock()
        self.publisher = ListPublisher()
        self.heartbeat = ListHeartbeat()
        self.workflows: dict[str, Workflow[Any]] = {}
        self._deps = deps
        self._settings = settings or EngineSettings()
        self._engine: Engine | None = None

    @property
    def settings(self) -> EngineSettings:
        return self._settings

    @settings.setter
    def settings(self, settings: EngineSettings) -> None:
        self._settings = settings
        self._engine = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = Engine(
                self.store,
                self.publisher,
                settings=self._settings,
                clock=self.clock,
                heartbeat=self.heartbeat,
                deps=self._deps,
                workflows=self.workflows.get,
                live=self.store,
                sleep=self.clock.advance,
            )
        return self._engine

    def start(
        self,
        workflow: Workflow[Any],
        run_input: BaseModel,
        *,
        run_id: str = "run-1",
        tenant: str = "org-a",
        user: str = "user-1",
        subject: str | None = None,
        documents: dict[str, dict[str, Any]] | None = None,
    ) -> str:
        """Create the run QUEUED with `documents` (its subject, say), as the api does; its id.

        `subject` defaults to the first of `documents`, else `subjects/<run_id>`.
        """
        self.workflows[workflow.id] = workflow
        documents = documents or {}
        subject = subject or next(iter(documents), f"subjects/{run_id}")
        self.engine.start(
            workflow,
            run_input,
            run_id=run_id,
            tenant_id=tenant,
            user_id=user,
            subject=subject,
            writes=[Write(path=path, data=data) for path, data in documents.items()],
        )
        return run_id

    def deliver(self, run_id: str = "run-1") -> str:
        """One Pub/Sub delivery's outcome, or RETRY when the worker would answer 500."""
        try:
            return self.engine.deliver(run_id).value
        except RetryLater:
            return RETRY

    def run_to_end(self, run_id: str = "run-1", *, max_deliveries: int = 50) -> Finished:
        """Deliver the run until it has ended, moving the clock past retries and leases.

        A retry is delivered again once the clock has moved past the wait the
        engine asked for (as Pub/Sub's backoff and the sweep would); a run
        that has not ended after `max_deliveries` fails the test.
        """
        for delivery in range(1, max_deliveries + 1):
            outcome = self.deliver(run_id)
            if outcome in _ENDED:
                return self.finished(run_id, deliveries=delivery)
            if outcome == Outcome.WAITING:
                wait = self.run(run_id).wait
                if wait is not None and wait.signal is not None:
                    raise AssertionError(
                        f"run {run_id} waits for signal {wait.signal!r}: send it with "
                        "`signal`, or let it time out with `pass_wait`"
                    )
                self.pass_wait(run_id)  # a sleep: its time comes, the sweep wakes it
                continue
            # A retry, a rate limit's wait, a lease or a slot held elsewhere:
            # the next delivery comes after the watchdog's delay.
            self.clock.advance(self._settings.redrive_after.total_seconds())
        raise AssertionError(
            f"run {run_id} did not end after {max_deliveries} deliveries: {self.run(run_id)}"
        )

    def run_to_wait(self, run_id: str = "run-1", *, max_deliveries: int = 50) -> RunRecord:
        """Deliver the run until it is parked WAITING; the run. Fails the test if it ends."""
        for _ in range(max_deliveries):
            outcome = self.deliver(run_id)
            if outcome == Outcome.WAITING:
                return self.run(run_id)
            if outcome in _ENDED:
                raise AssertionError(f"run {run_id} ended {outcome} instead of waiting")
            self.clock.advance(self._settings.redrive_after.total_seconds())
        raise AssertionError(f"run {run_id} did not reach a wait: {self.run(run_id)}")

    def signal(
        self,
        name: str,
        payload: BaseModel | dict[str, Any],
        run_id: str = "run-1",
        *,
        tenant: str | None = None,
    ) -> RunRecord:
        """`Engine.signal`: raises NotFound, InvalidInput or Conflict as the route answers."""
        return self.engine.signal(run_id, name, payload, tenant_id=tenant)

    def pass_wait(self, run_id: str = "run-1") -> SweepReport:
        """Move the clock just past the run's wait timeout and sweep (as the next tick would)."""
        wait = self.run(run_id).wait
        if wait is None:
            raise AssertionError(f"run {run_id} is not waiting")
        left = (wait.timeout_at - self.clock()).total_seconds()
        self.clock.advance(max(left, 0) + 1)
        return self.sweep()

    def finished(self, run_id: str = "run-1", *, deliveries: int = 0) -> Finished:
        run = self.run(run_id)
        order = [*run.step_order, *(s for s in run.steps if s not in run.step_order)]
        steps = {step_id: run.steps[step_id] for step_id in order if step_id in run.steps}
        writes = {
            path: document
            for path in self.store.written.get(run_id, [])
            if (document := self.store.read(path)) is not None
        }
        return Finished(run=run, steps=steps, writes=writes, deliveries=deliveries)

    def cancel(self, run_id: str = "run-1", *, reason: str = CANCELLED_ON_REQUEST) -> None:
        """`Engine.cancel`: raises AlreadyFinished if the run has ended."""
        self.engine.cancel(run_id, reason=reason)

    def resume(self, run_id: str = "run-1", *, by: str = "user-1") -> None:
        """`Engine.resume`: raises NotResumable unless the run FAILED or was CANCELLED."""
        self.engine.resume(run_id, by=by)

    def rerun(
        self,
        source_id: str = "run-1",
        from_step: str = "",
        *,
        input: dict[str, Any] | None = None,
        run_id: str = "run-2",
        documents: dict[str, dict[str, Any]] | None = None,
    ) -> str:
        """`Engine.plan_rerun` then `Engine.rerun`, as the api does; the new run's id.

        The new run's subject is the first of `documents` (created with it),
        else `subjects/<run_id>`. Raises Conflict or InvalidInput as the api
        answers 409 or 422.
        """
        source = self.store.load(source_id)
        if source is None:
            raise KeyError(f"no run {source_id}")
        plan = self.engine.plan_rerun(source, from_step, input or {})
        documents = documents or {}
        self.engine.rerun(
            plan,
            plan.run_input,
            run_id=run_id,
            user_id=source.record.user_id,
            subject=next(iter(documents), f"subjects/{run_id}"),
            writes=[Write(path=path, data=data) for path, data in documents.items()],
        )
        return run_id

    def sweep(self) -> SweepReport:
        return self.engine.sweep()

    def after_lease(self) -> None:
        """Move the clock past the lease, as if the delivery holding it died."""
        self.clock.advance(self._settings.lease.total_seconds() + 1)

    def run(self, run_id: str = "run-1") -> RunRecord:
        loaded = self.store.load(run_id)
        if loaded is None:
            raise KeyError(f"no run {run_id}")
        return loaded.record

    def document(self, path: str) -> dict[str, Any]:
        document = self.store.read(path)
        if document is None:
            raise KeyError(f"no document {path}")
        return document


# -- the model ------------------------------------------------------------------


@dataclass(frozen=True)
class ModelCall:
    """One `generate` call a step made, as the model received it."""

    schema: type[BaseModel]
    system: str
    prompt: str
    temperature: float


# A scripted answer: the value (an instance of the schema, or a dict validated
# against it), an exception to raise (a `TransientError` makes the step retry),
# or a function of the call returning either.
Answer = BaseModel | dict[str, Any] | BaseException | Callable[[ModelCall], Any]


class ScriptedModel:
    """A `LanguageModel` that answers from a script, else with schema-valid placeholders.

    `script(answer, ...)` queues answers used by the next calls in order;
    `when(schema_name, answer, ...)` queues answers for calls whose schema
    class is named so (answer models built per request, such as
    `seed_batch_schema(n)`, keep their name). A call with nothing scripted
    gets the offline model's placeholder for its schema, so a workflow runs
    to its end with no script at all. Every call is recorded in `calls`;
    each reports `tokens` to the step's meter, as a provider's usage would.
    """

    def __init__(self, *answers: Answer, tokens: tuple[int, int] = (0, 0)) -> None:
        self.calls: list[ModelCall] = []
        self.tokens = tokens
        self._queue: list[Answer] = list(answers)
        self._by_schema: dict[str, list[Answer]] = {}
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return SCRIPTED_MODEL_NAME

    def script(self, *answers: Answer) -> ScriptedModel:
        with self._lock:
            self._queue.extend(answers)
        return self

    def when(self, schema_name: str, *answers: Answer) -> ScriptedModel:
        with self._lock:
            self._by_schema.setdefault(schema_name, []).extend(answers)
        return self

    def calls_for(self, schema_name: str) -> list[ModelCall]:
        return [c for c in self.calls if c.schema.__name__ == schema_name]

    def generate(
        self,
        schema: type[T],
        *,
        system: str,
        prompt: str,
        temperature: float,
        meter: UsageSink | None = None,
    ) -> Generation[T]:
        call = ModelCall(schema=schema, system=system, prompt=prompt, temperature=temperature)
        with self._lock:
            self.calls.append(call)
            queued = self._by_schema.get(schema.__name__) or self._queue
            answer: Answer | None = queued.pop(0) if queued else None
        if meter is not None:
            prompt_tokens, completion_tokens = self.tokens
            meter.add_usage(
                SCRIPTED_MODEL_NAME,
                prompt_tokens,
                completion_tokens,
                prompt_tokens + completion_tokens,
            )
        if callable(answer) and not isinstance(answer, BaseModel):
            answer = answer(call)
        if isinstance(answer, BaseException):
            if meter is not None:
                meter.add_answer(None, ())
            raise answer
        if meter is not None:
            # Recorded on the step as the model that answered (`model`).
            meter.add_answer(SCRIPTED_MODEL_NAME, ())
        if answer is None:
            return Generation(value=placeholder(schema), model=SCRIPTED_MODEL_NAME)
        if isinstance(answer, schema):
            return Generation(value=answer, model=SCRIPTED_MODEL_NAME)
        data = answer.model_dump(by_alias=True) if isinstance(answer, BaseModel) else answer
        return Generation(value=schema.model_validate(data), model=SCRIPTED_MODEL_NAME)


def run_workflow(
    workflow: Workflow[Any],
    run_input: BaseModel,
    *,
    model: LanguageModel | None = None,
    documents: dict[str, dict[str, Any]] | None = None,
    harness: EngineHarness | None = None,
    run_id: str = "run-1",
    tenant: str = "org-a",
    user: str = "user-1",
) -> Finished:
    """Start `workflow` on `run_input` and deliver it until it ends; in milliseconds.

    `documents` are created with the run, as the api creates its subject
    (the first is the run's subject). Without `harness` a fresh one is
    built on `model` (a `ScriptedModel` answering placeholders by default);
    pass one to run several workflows on the same documents.
    """
    harness = harness or EngineHarness(model=model or ScriptedModel())
    harness.start(workflow, run_input, run_id=run_id, tenant=tenant, user=user, documents=documents)
    return harness.run_to_end(run_id)
