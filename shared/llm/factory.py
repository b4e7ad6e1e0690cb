"""Choose the `LanguageModel` implementation from settings.

The one rule that matters: the offline placeholder provider is used only
when no key is configured at all *and* the settings allow it (off Google
Cloud). A deployed function without a key fails loudly instead of quietly
producing placeholder content for real users.

With a key, the model is a `FailoverModel` over the primary (OPENAI_MODEL)
and each of LLM_FALLBACKS in order; without fallbacks the chain has one
model and no breaker, and behaves exactly as the primary alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from shared.config import FallbackModel, LLMSettings
from shared.errors import NonRetriableError
from shared.llm.breaker import BreakerSettings, BreakerStore, CircuitBreaker, provider_key
from shared.llm.budget import BudgetCounter, LLMBudget
from shared.llm.failover import FailoverModel, Provider
from shared.llm.interface import LanguageModel
from shared.llm.offline_model import OfflineLanguageModel
from shared.llm.openai_model import OpenAILanguageModel

__all__ = ["ModelEndpoint", "SecretSource", "build_language_model", "endpoints"]


class SecretSource(Protocol):
    def read(self, name: str) -> str:
        """A secret version's payload (`shared.adapters.secrets.SecretReader`: Secret Manager)."""
        ...


class _NoSecrets:
    """What reads secrets when the caller brought nothing: a named secret is a setup error."""

    def read(self, name: str) -> str:
        raise NonRetriableError(f"a key is configured as secret {name} but nothing reads secrets")


class ModelEndpoint:
    """One configured model: where it is served and the key it uses (read when built)."""

    def __init__(self, model: str, base_url: str | None, api_key: str) -> None:
        self.model = model
        self.base_url = base_url
        self.api_key = api_key

    def __repr__(self) -> str:
        return f"ModelEndpoint(model={self.model!r}, base_url={self.base_url!r})"

    @property
    def key(self) -> str:
        """The id of its breaker and budget counters."""
        return provider_key(self.model, self.base_url)


def endpoints(settings: LLMSettings, secrets: SecretSource | None = None) -> list[ModelEndpoint]:
    """The primary and each fallback with its key; [] when no key is configured at all.

    Keys come from the setting itself (OPENAI_API_KEY, a fallback's apiKeyEnv)
    or from Secret Manager (OPENAI_API_KEY_SECRET, a fallback's apiKeySecret)
    through `secrets`, which `shared.services` builds once per process (so
    each secret is read once per process; this package imports no adapter).
    A fallback with neither uses the primary's key.
    """
    reader: SecretSource = secrets if secrets is not None else _NoSecrets()
    primary_key = settings.api_key
    if not primary_key and settings.api_key_secret:
        primary_key = reader.read(settings.api_key_secret)
    if not primary_key:
        if settings.fallbacks:
            raise NonRetriableError(
                "LLM_FALLBACKS is set but the primary model has no key: set OPENAI_API_KEY_SECRET"
            )
        return []
    found = [ModelEndpoint(settings.model, settings.base_url, primary_key)]
    for fallback in settings.fallbacks:
        found.append(
            ModelEndpoint(
                fallback.model,
                fallback.base_url or settings.base_url,
                _fallback_key(fallback, primary_key, reader),
            )
        )
    return found


def _fallback_key(fallback: FallbackModel, primary_key: str, reader: SecretSource) -> str:
    if fallback.api_key:
        return fallback.api_key
    if fallback.api_key_secret:
        return reader.read(fallback.api_key_secret)
    return primary_key


def build_language_model(
    settings: LLMSettings,
    secrets: SecretSource | None = None,
    *,
    budget_counter: BudgetCounter | None = None,
    breaker_store: BreakerStore | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> LanguageModel:
    """Return the OpenAI-backed failover chain when a key is configured, else the offline model.

    `budget_counter` (the deployment's shared counters) gives each model its
    own LLM budget when LLM_REQUESTS_PER_MINUTE / LLM_TOKENS_PER_MINUTE are
    set; `breaker_store` holds the breakers every instance shares (used only
    with fallbacks: a lone model has nowhere to go).
    """
    found = endpoints(settings, secrets)
    if not found:
        if settings.offline_allowed:
            return OfflineLanguageModel()
        raise NonRetriableError("No OpenAI key configured: set OPENAI_API_KEY_SECRET")
    limited = settings.requests_per_minute is not None or settings.tokens_per_minute is not None
    providers: list[Provider] = []
    for endpoint in found:
        budget = None
        if budget_counter is not None and limited:
            budget = LLMBudget(
                budget_counter,
                requests_per_minute=settings.requests_per_minute,
                tokens_per_minute=settings.tokens_per_minute,
                clock=clock,
                sleep=sleep,
                scope=f"{endpoint.key}-",
            )
        breaker = None
        if breaker_store is not None and len(found) > 1:
            breaker = CircuitBreaker(
                breaker_store,
                endpoint.key,
                BreakerSettings(
                    failures=settings.breaker_failures,
                    window_seconds=settings.breaker_window_seconds,
                    cooldown_seconds=settings.breaker_cooldown_seconds,
                    # A probe may take the model's whole timeout.
                    probe_seconds=settings.timeout_seconds + 5,
                ),
                clock=clock,
            )
            # A store that can push changes tells this instance of every
            # opening at once, instead of at its own first failed call.
            watch = getattr(breaker_store, "watch", None)
            if callable(watch):
                watch(endpoint.key, breaker.learn)
        model = OpenAILanguageModel(
            api_key=endpoint.api_key,
            base_url=endpoint.base_url,
            model=endpoint.model,
            timeout_seconds=settings.timeout_seconds,
            schema_retries=settings.schema_retries,
            budget=budget,
            sleep=sleep,
            rate_limit_max_wait_seconds=settings.rate_limit_max_wait_seconds,
            stream=settings.stream,
        )
        providers.append(Provider(model, breaker))
    return FailoverModel(providers)
