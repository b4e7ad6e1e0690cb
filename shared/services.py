"""Builds the adapters once per process, from `Settings`; both entry points use it.

Construction is lazy: an api instance answering /healthz never opens a
Firestore channel, and a worker never fetches the OpenAI key until a step
asks for the model. The adapters are imported when first built, not at
import: `google.cloud.firestore` alone is ~0.3 s of a function's cold start.

One instance serves many requests at once (THREADS), so each adapter is
built once even when the first requests arrive together: they share one
Firestore channel, one Pub/Sub publisher and one OpenAI client.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self, TypeVar, overload

from shared import logs, redaction, tracing
from shared.admission import Admission, Limits
from shared.config import Settings
from shared.engine import (
    Clock,
    Engine,
    EngineSettings,
    OutboxStore,
    TokenUsage,
    UsageLedger,
    utcnow,
)
from shared.llm.interface import LanguageModel
from shared.workflows.deps import OpsDeps, WorkflowDeps

if TYPE_CHECKING:
    from google.cloud import firestore

    from shared.adapters.firestore_docs import FirestoreDocuments
    from shared.adapters.firestore_heartbeat import FirestoreSweepHeartbeat
    from shared.adapters.firestore_live import FirestoreLiveStore
    from shared.adapters.firestore_runs import FirestoreRunIndex
    from shared.adapters.firestore_usage import FirestoreUsage
    from shared.adapters.firestore_watch import FirestoreRunWatcher, ListenChannels
    from shared.adapters.jwt_auth import TokenVerifier
    from shared.adapters.pubsub import PubSubPublisher
    from shared.adapters.secrets import SecretReader
    from shared.llm.breaker import BreakerStore
    from shared.llm.budget import BudgetCounter

T = TypeVar("T")


class _built_once(functools.cached_property[T]):
    """`cached_property` that builds once under concurrent first access.

    Python 3.12 (the functions' runtime) dropped cached_property's lock, so
    two requests arriving together could each build a client.
    """

    def __init__(self, func: Callable[[Any], T]) -> None:
        super().__init__(func)
        self._lock = threading.RLock()

    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> Self: ...

    @overload
    def __get__(self, instance: object, owner: type[Any] | None = None) -> T: ...

    def __get__(self, instance: object, owner: type[Any] | None = None) -> T | Self:
        if instance is None:
            return self
        with self._lock:
            return super().__get__(instance, owner)


@dataclass
class Services:
    settings: Settings
    clock: Clock = utcnow
    _overridden: dict[str, object] = field(default_factory=dict, init=False, repr=False)

    def now(self) -> datetime:
        return self.clock()

    def override(self, **parts: object) -> None:
        """Use these parts instead of building them (a fault-injecting store, a counting client).

        For tests and benchmarks. Every part not overridden is built again on
        next use, so it is built from the overrides (a runner on the new store).
        """
        built = {name for name, value in vars(type(self)).items() if isinstance(value, _built_once)}
        unknown = set(parts) - built
        if unknown:
            raise AttributeError(f"Services has no part {sorted(unknown)}")
        self._overridden.update(parts)
        for name in built - set(self._overridden):
            self.__dict__.pop(name, None)
        self.__dict__.update(self._overridden)

    @_built_once
    def db(self) -> firestore.Client:
        from shared.adapters.firestore_store import client_for

        return client_for(self.settings.project, self.settings.firestore_database)

    @_built_once
    def documents(self) -> FirestoreDocuments:
        from shared.adapters.firestore_docs import FirestoreDocuments

        return FirestoreDocuments(self.db)

    @_built_once
    def store(self) -> OutboxStore:
        """Runs in Firestore; every run's end is also published on the results topic."""
        from shared.adapters.firestore_store import FirestoreRunStore

        return OutboxStore(FirestoreRunStore(self.db), self.results_publisher)

    @_built_once
    def results_publisher(self) -> PubSubPublisher:
        from shared.adapters.pubsub import PubSubPublisher

        return PubSubPublisher(self.settings.project, self.settings.results_topic)

    @_built_once
    def run_index(self) -> FirestoreRunIndex:
        from shared.adapters.firestore_runs import FirestoreRunIndex

        return FirestoreRunIndex(self.db)

    @_built_once
    def watcher(self) -> FirestoreRunWatcher:
        from shared.adapters.firestore_watch import FirestoreRunWatcher

        return FirestoreRunWatcher(self.listen_channels)

    @_built_once
    def listen_channels(self) -> ListenChannels:
        """gRPC channels for Firestore listeners only (`firestore_watch`), apart from `db`'s."""
        from shared.adapters.firestore_watch import ListenChannels, ListenClient

        project, database = self.settings.project, self.settings.firestore_database
        return ListenChannels(lambda: ListenClient(project=project, database=database))

    @_built_once
    def usage(self) -> FirestoreUsage:
        from shared.adapters.firestore_usage import FirestoreUsage

        return FirestoreUsage(self.db)

    @_built_once
    def ledger(self) -> UsageLedger:
        llm = self.settings.llm

        def price(usage: TokenUsage) -> float:
            known = llm.price_of(usage.model or llm.model)
            if known is None:
                return 0.0
            return known.cost_usd(usage.prompt_tokens, usage.completion_tokens)

        return UsageLedger(price)

    @_built_once
    def publisher(self) -> PubSubPublisher:
        from shared.adapters.pubsub import PubSubPublisher

        return PubSubPublisher(self.settings.project, self.settings.events_topic)

    @_built_once
    def verifier(self) -> TokenVerifier:
        from shared.adapters.jwt_auth import TokenVerifier

        return TokenVerifier(self.settings.auth)

    @_built_once
    def sweep_heartbeat(self) -> FirestoreSweepHeartbeat:
        from shared.adapters.firestore_heartbeat import FirestoreSweepHeartbeat

        return FirestoreSweepHeartbeat(lambda: self.db)

    @_built_once
    def secrets(self) -> SecretReader:
        """One reader per process: a warm instance reads each model's key once."""
        from shared.adapters.secrets import SecretReader

        return SecretReader()

    @_built_once
    def llm_budget_counter(self) -> BudgetCounter | None:
        """The counters of the LLM budget (one per model); None (no cost at all) without limits."""
        llm = self.settings.llm
        if llm.requests_per_minute is None and llm.tokens_per_minute is None:
            return None
        from shared.adapters.firestore_budget import FirestoreBudgetCounter

        return FirestoreBudgetCounter(self.db)

    @_built_once
    def admission(self) -> Admission:
        """The tenants' admission limits; without any set it touches nothing."""
        settings = self.settings
        limits = Limits(
            creates_per_minute=settings.tenant_creates_per_minute,
            daily_tokens=settings.tenant_daily_token_limit,
            daily_cost_usd=settings.tenant_daily_cost_limit_usd,
        )
        counter = None
        if limits.creates_per_minute is not None:
            from shared.adapters.firestore_budget import ADMISSION, FirestoreBudgetCounter

            counter = FirestoreBudgetCounter(self.db, ADMISSION)
        usage = self.usage if limits.any_daily else None
        return Admission(
            limits,
            counter=counter,
            usage=usage,
            clock=self.now,
            quota_cache_seconds=settings.tenant_quota_cache_seconds,
        )

    @_built_once
    def llm_breakers(self) -> BreakerStore | None:
        """The model breakers every instance shares; None without LLM_FALLBACKS."""
        if not self.settings.llm.fallbacks:
            return None
        from shared.adapters.firestore_breaker import FirestoreBreakerStore

        return FirestoreBreakerStore(self.db)

    @_built_once
    def live(self) -> FirestoreLiveStore:
        """Runs' live logs: streamed items, written by the worker, watched by the api."""
        from shared.adapters.firestore_live import FirestoreLiveStore

        return FirestoreLiveStore(lambda: self.db, self.listen_channels)

    @_built_once
    def engine(self) -> Engine:
        """The engine, on the parts above (and on their overrides)."""

        def language_model() -> LanguageModel:
            # Imported here: `openai` costs ~0.4 s of cold start, and only a
            # worker that reaches an LLM step needs it (never the api).
            from shared.llm.factory import build_language_model

            return build_language_model(
                self.settings.llm,
                self.secrets,
                budget_counter=self.llm_budget_counter,
                breaker_store=self.llm_breakers,
            )

        def deps(engine: Engine) -> WorkflowDeps:
            return WorkflowDeps(language_model, OpsDeps(engine=engine, index=self.run_index))

        return Engine(
            self.store,
            self.publisher,
            settings=EngineSettings.from_settings(self.settings),
            clock=self.clock,
            ledger=self.ledger,
            results=self.results_publisher,
            pending=self.run_index,
            heartbeat=self.sweep_heartbeat,
            deps=deps,
            live=self.live,
        )


@functools.cache
def from_environment() -> Services:
    settings = Settings.from_env()
    redaction.remember(settings.llm.api_key)
    logs.configure(settings.log_level, settings.project)
    configure_tracing(settings)
    return Services(settings=settings)


def configure_tracing(settings: Settings) -> None:
    """Export spans as TRACE_EXPORTER says; `none` imports nothing of OpenTelemetry."""
    if settings.trace_exporter == "none":
        tracing.configure(None)
        return
    from shared.adapters.trace_export import span_exporter

    exporter = span_exporter(
        settings.trace_exporter, project=settings.project, path=settings.trace_file
    )
    # Cloud Trace in batches from a background thread (each worker delivery
    # flushes at its end); the local exporters write each span as it ends.
    tracing.configure(
        exporter,
        sample_ratio=settings.trace_sample_ratio,
        batch=settings.trace_exporter == "cloud",
    )
