"""Builds the adapters once per process, from `Settings`; both entry points use it.

Construction is lazy: an api instance answering /healthz never opens a
Firestore channel, and a worker never fetches the OpenAI key until a step
asks for the model.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from google.cloud import firestore

from shared import logs
from shared.adapters.firestore_docs import FirestoreDocuments
from shared.adapters.firestore_runs import FirestoreRunIndex
from shared.adapters.firestore_store import FirestoreRunStore, client_for
from shared.adapters.jwt_auth import TokenVerifier
from shared.adapters.llm import LanguageModel
from shared.adapters.pubsub import PubSubPublisher
from shared.config import Settings
from shared.engine.runner import Clock, EngineConfig, Runner, utcnow
from shared.workflows.deps import WorkflowDeps


@dataclass
class Services:
    settings: Settings
    clock: Clock = utcnow

    def now(self) -> datetime:
        return self.clock()

    @functools.cached_property
    def db(self) -> firestore.Client:
        return client_for(self.settings.project, self.settings.firestore_database)

    @functools.cached_property
    def documents(self) -> FirestoreDocuments:
        return FirestoreDocuments(self.db)

    @functools.cached_property
    def store(self) -> FirestoreRunStore:
        return FirestoreRunStore(self.db)

    @functools.cached_property
    def run_index(self) -> FirestoreRunIndex:
        return FirestoreRunIndex(self.db)

    @functools.cached_property
    def publisher(self) -> PubSubPublisher:
        return PubSubPublisher(self.settings.project, self.settings.events_topic)

    @functools.cached_property
    def verifier(self) -> TokenVerifier:
        return TokenVerifier(self.settings.auth)

    @functools.cached_property
    def engine_config(self) -> EngineConfig:
        return EngineConfig(
            lease_seconds=self.settings.lease_seconds,
            step_max_attempts=self.settings.step_max_attempts,
            redrive_after_seconds=self.settings.redrive_after_seconds,
            max_parallel_steps=self.settings.max_parallel_steps,
        )

    @functools.cached_property
    def runner(self) -> Runner:
        def language_model() -> LanguageModel:
            # Imported here: `openai` costs ~0.4 s of cold start, and only a
            # worker that reaches an LLM step needs it (never the api).
            from shared.adapters.llm_factory import build_language_model

            return build_language_model(self.settings.llm)

        deps = WorkflowDeps(language_model)
        return Runner(self.store, deps=deps, config=self.engine_config, clock=self.clock)


@functools.cache
def from_environment() -> Services:
    settings = Settings.from_env()
    logs.configure(settings.log_level)
    return Services(settings=settings)
