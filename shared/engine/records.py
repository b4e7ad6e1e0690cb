"""The engine's records: a run, its steps, and the document writes a step commits.

A run document holds its step records inline (keyed by step id), so that one
read loads the whole checkpoint state of a run; see `store.RunStore`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from shared.engine.usage import Usage

# What started a run: an HTTP create route or a trigger event on Pub/Sub.
RunSource = Literal["http", "trigger"]


class RunStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    # Parked until a signal or its wait's timeout (`engine.waits`): no lease, no delivery.
    WAITING = "WAITING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)


class StepStatus(StrEnum):
    RUNNING = "RUNNING"
    RETRYING = "RETRYING"  # an attempt failed; Pub/Sub will redeliver
    WAITING = "WAITING"  # a wait step: the run is parked until its signal or timeout
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class ModelTokens(BaseModel):
    """One model's share of a `TokenUsage`."""

    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    calls: int = 0

    def plus(self, other: ModelTokens) -> ModelTokens:
        return ModelTokens(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            calls=self.calls + other.calls,
        )


class TokenUsage(BaseModel):
    """Tokens a step's model calls consumed, summed over its calls (and attempts).

    `model` is the model that answered (the latest, should calls differ);
    `models` splits the sums by the model that was called (with
    LLM_FALLBACKS a step may have paid two), so each is priced at its own
    rate. A record written before the split has no `models`: `per_model`
    puts it all on `model`.
    """

    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    calls: int = 0
    model: str | None = None
    models: dict[str, ModelTokens] = Field(default_factory=dict)

    @classmethod
    def of_call(
        cls, model: str, prompt_tokens: int, completion_tokens: int, total_tokens: int
    ) -> TokenUsage:
        """One model call's usage."""
        tokens = ModelTokens(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=total_tokens,
            calls=1,
        )
        return cls(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=total_tokens,
            calls=1,
            model=model,
            models={model: tokens},
        )

    def per_model(self) -> dict[str, ModelTokens]:
        """The sums by model (a record from before the split: all on `model`)."""
        if self.models:
            return dict(self.models)
        if not (self.prompt_tokens or self.completion_tokens or self.total_tokens or self.calls):
            return {}
        whole = ModelTokens(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            total_tokens=self.total_tokens,
            calls=self.calls,
        )
        # "" for a model nobody named (priced as the configured model).
        return {self.model or "": whole}

    def plus(self, earlier: TokenUsage | None) -> TokenUsage:
        """This usage added to an earlier one (None counts as nothing)."""
        if earlier is None:
            return self
        models = earlier.per_model()
        for name, tokens in self.per_model().items():
            models[name] = models[name].plus(tokens) if name in models else tokens
        return TokenUsage(
            prompt_tokens=earlier.prompt_tokens + self.prompt_tokens,
            completion_tokens=earlier.completion_tokens + self.completion_tokens,
            total_tokens=earlier.total_tokens + self.total_tokens,
            calls=earlier.calls + self.calls,
            model=self.model or earlier.model,
            models=models,
        )


def total_usage(*usages: TokenUsage | None) -> TokenUsage | None:
    """The sum of the given usages; None if none of them is known."""
    total: TokenUsage | None = None
    for usage in usages:
        if usage is not None:
            total = usage.plus(total)
    return total


class FailedModel(BaseModel):
    """A model that did not answer one of a step's calls, and why."""

    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)

    model: str
    error: str


# Failed models kept on a step record (a step makes few calls; a bound keeps
# a pathological one from growing the run document).
MAX_FAILED_MODELS = 8


# Attempts kept on a step record (the latest ones), and model calls kept per
# attempt: the run document holds them, so they are bounded like repairs.
MAX_ATTEMPT_HISTORY = 10
MAX_MODEL_CALLS = 16


class ModelCall(BaseModel):
    """One request to a model within a step attempt: the innermost bar of a waterfall.

    `retry` counts the requests of the same call before this one (0: the
    first); `retry_reason` says why it was asked again: `schema` (the answer
    violated the schema), `rate_limit` (a short 429 waited out). A request
    that failed has `error` (redacted, as every recorded error).
    """

    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)

    model: str
    started_at: datetime
    finished_at: datetime
    duration_ms: int = 0
    retry: int = 0
    retry_reason: Literal["schema", "rate_limit"] | None = None
    response_model: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None


class AttemptRecord(BaseModel):
    """One attempt of a step, kept after the next one starts (the record's own fields
    describe only the latest): when it ran, how it ended and the model calls it made.

    `status` is COMPLETED, RETRYING (failed; another attempt follows), FAILED,
    or LOST: the worker running it stopped without reporting (crash, timeout).
    """

    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)

    attempt: int
    status: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: int | None = None
    error: str | None = None
    model_calls: list[ModelCall] = Field(default_factory=list)


# What a checkpoint may weigh, in UTF-8 bytes of its JSON text. Firestore
# holds at most 1 MiB (1,048,576 bytes) in a document and 1,048,487 bytes in
# one field. An output stays in the run document (no extra write) when it
# is at most INLINE_OUTPUT_BYTES and the run's step records, it included,
# stay under RUN_OUTPUTS_BUDGET; otherwise it is stored beside the run, in a
# document of its own, which holds up to MAX_OUTPUT_BYTES (with room for the
# document's name and field). A larger output fails its step before
# anything is written. The budget leaves room for what records carry besides
# outputs (errors, repairs, failed models), which is bounded per step.
INLINE_OUTPUT_BYTES = 32_000
RUN_OUTPUTS_BUDGET = 400_000
MAX_OUTPUT_BYTES = 1_000_000
# One commit (a step's checkpoint and its writes) carries at most this much:
# Firestore refuses a request over 10 MiB (10,485,760 bytes); the rest is
# room for document names and the run's own fields.
MAX_COMMIT_BYTES = 10_000_000


def checkpoint_bytes(text: str) -> int:
    """The size a checkpoint's JSON text takes in Firestore (UTF-8, as it stores strings)."""
    return len(text.encode())


def stored_bytes(value: Any) -> int:
    """The size Firestore counts for a value: strings as UTF-8 + 1, numbers and times 8,
    each map key as UTF-8 + 1 (its documented storage size calculation)."""
    if isinstance(value, str):
        return len(value.encode()) + 1
    if isinstance(value, bytes):
        return len(value) + 1
    if isinstance(value, dict):
        return sum(stored_bytes(str(k)) + stored_bytes(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return sum(stored_bytes(v) for v in value)
    if value is None or isinstance(value, bool):
        return 1
    return 8  # numbers, timestamps, sentinels (increments, server times)


class StepRecord(BaseModel):
    """One step's checkpoint and timeline entry.

    `output` is the step's pydantic output as JSON text: a string keeps
    Firestore from reshaping it (no nested arrays, int/float drift) and
    replays byte for byte. `usage` sums every attempt's model calls (failed
    attempts cost money too); `repairs` are what the latest attempt's answers
    needed fixed before they validated.
    """

    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)

    status: StepStatus
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: int | None = None
    error: str | None = None
    output: str | None = None
    usage: TokenUsage | None = None
    repairs: list[str] = Field(default_factory=list)
    # The model that answered the latest attempt's calls (LLM_FALLBACKS: the
    # primary or a fallback), and the models that failed before it did.
    model: str | None = None
    failed_models: list[FailedModel] = Field(default_factory=list)
    # The earlier steps whose outputs the latest attempt read: the step's
    # input besides the run's (the console shows them beside its output).
    reads: list[str] = Field(default_factory=list)
    # Every attempt so far, oldest first (at most MAX_ATTEMPT_HISTORY, the latest).
    history: list[AttemptRecord] = Field(default_factory=list)
    # The output is stored beside the run (runs/{runId}/outputs/{stepId}),
    # not in it; decided by the engine when the step is committed.
    output_external: bool = False
    # A rerun's copy of its source run's checkpoint (`engine.rerun`): the
    # source's id. Not executed, not billed by this run.
    reused_from: str | None = None
    # Whether the step's commit wrote documents besides its checkpoint: such
    # a step is never run twice, even when a deploy made its checkpoint
    # unreadable. None on records from before it was kept.
    effects: bool | None = None

    def inline_bytes(self) -> int:
        """What this record weighs in the run document (its output only if kept inline)."""
        own = stored_bytes(self.model_dump(by_alias=True, exclude={"output"}))
        if self.output is not None and not self.output_external:
            own += checkpoint_bytes(self.output) + 1
        return own


class Resume(BaseModel):
    """One resume of a finished run, kept on the run for its timeline."""

    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)

    at: datetime
    by: str
    previous_status: RunStatus
    previous_error: str | None = None
    # The bulk operation that resumed it, if any.
    operation_id: str | None = None


class SubjectFields(BaseModel):
    """Which fields of its subject document the engine sets when a run fails, is
    cancelled or resumes; declared by the workflow, kept on each run.

    The engine never knows the domain's field names otherwise; a workflow's
    last step marks its subject completed itself, together with its results.
    """

    model_config = ConfigDict(
        extra="ignore", alias_generator=to_camel, populate_by_name=True, frozen=True
    )

    status: str
    error: str
    updated_at: str | None = None
    # The status value written when a run is resumed (FAILED and CANCELLED
    # are written as the run's own status).
    in_progress: str = "IN_PROGRESS"

    def update(self, path: str, status: str, error: str | None, now: datetime) -> Write:
        data: dict[str, Any] = {self.status: status, self.error: error}
        if self.updated_at is not None:
            data[self.updated_at] = now
        return Write(path=path, data=data, mode="merge")


class WaitState(BaseModel):
    """The wait a WAITING run is parked on: set by the commit that parks it, cleared by
    the commit that ends the wait (its signal, its timeout, or the run's end).

    It carries what the sweep needs to end the wait without the workflow's
    declaration (the outcome on timeout and its error), and what a trigger
    event is matched on (`event`, `key`).
    """

    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)

    step: str
    # The signal that ends it; None for a sleep.
    signal: str | None = None
    since: datetime
    timeout_at: datetime
    on_timeout: Literal["fail", "continue"] = "fail"
    timeout_error: str | None = None
    # A trigger event of this name whose `data[match]` equals `key` is the signal.
    event: str | None = None
    match: str | None = None
    key: str | None = None


class RunRecord(BaseModel):
    """A run document as stored (camelCase in Firestore, like every document)."""

    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)

    run_id: str
    workflow: str
    tenant_id: str
    user_id: str
    # Path of the domain document this run produces (a session or programme);
    # the engine marks it FAILED or CANCELLED when the run ends that way.
    subject: str
    # How to mark the subject; None: the engine leaves it alone.
    subject_fields: SubjectFields | None = None
    input: dict[str, Any]
    status: RunStatus
    created_at: datetime
    deadline_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # When the sweep should look at this run if nothing else has happened.
    watchdog_at: datetime | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    deliveries: int = 0
    error: str | None = None
    steps: dict[str, StepRecord] = Field(default_factory=dict)
    # Step ids in execution order, as far as they are known (fan-out steps
    # appear once the step that decides them has completed).
    step_order: list[str] = Field(default_factory=list)
    resumes: list[Resume] = Field(default_factory=list)
    # Fair per-tenant concurrency (`engine.slots`): the tenant slot this run
    # holds while it executes; since when it has waited for one (timeline);
    # its place in the tenant's line while parked (None once woken or running).
    slot: int | None = None
    waiting_for_slot: datetime | None = None
    slot_queue: datetime | None = None
    # Every step's tokens and their estimated cost, kept up to date by each
    # step's commit (see `engine.ledger`).
    usage: Usage = Field(default_factory=Usage)
    # Set by the commit that ends the run, cleared once its result is
    # published (see `engine.results`).
    result_pending: bool = False
    # What started it; a trigger's run also keeps the event's id and name,
    # which its result carries so the publisher can correlate.
    source: RunSource = "http"
    event_id: str | None = None
    event_name: str | None = None
    # The version of its workflow's declaration the run was started by
    # (`engine.versions`); None for a run created before versions existed.
    workflow_version: str | None = None
    # A rerun (`engine.rerun`): the run it reran, and the step it reran from;
    # on the source, the reruns made of it, oldest first.
    rerun_of: str | None = None
    rerun_from: str | None = None
    reruns: list[str] = Field(default_factory=list)
    # The run's trace (`shared.tracing`): the W3C trace id every delivery's
    # spans join, the span that created the run (their parent when a message
    # does not say) and whether the trace is sampled. None on runs created
    # before traces existed.
    trace_id: str | None = None
    trace_span_id: str | None = None
    trace_sampled: bool = False
    # What a WAITING run waits for (None otherwise).
    wait: WaitState | None = None
    # The trigger event whose signal ended the run's latest wait, so that the
    # event delivered again is recognised rather than rejected.
    signal_event: str | None = None

    def lease_live(self, now: datetime) -> bool:
        return (
            self.lease_owner is not None
            and self.lease_expires_at is not None
            and self.lease_expires_at > now
        )


class Write(BaseModel):
    """A domain-document write that a step commits together with its checkpoint.

    `put` replaces the document, `merge` updates the given fields only,
    `create` fails if it exists, `update` and `delete` may be conditional,
    and `increment` adds its numeric values to the document's (creating it;
    other values are set), so counters need no read. Paths are deterministic
    (derived from the run and the step's input) so a replayed step rewrites
    the same documents instead of adding new ones.
    """

    model_config = ConfigDict(frozen=True)

    path: str
    data: dict[str, Any]
    mode: Literal["put", "merge", "create", "update", "delete", "increment"] = "put"
    # `update` and `delete` only: commit only if the document is still at this
    # version (Firestore: its update time), so a write can fence like a run's.
    if_version: Any = None
