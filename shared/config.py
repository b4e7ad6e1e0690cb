"""Every setting of both functions, read from the environment in one place.

Nothing else in `shared` reads `os.environ`; tests build `Settings` directly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field


class AuthSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    jwks_url: str | None = None
    jwks_file: str | None = None
    issuer: str | None = None
    audience: str | None = None
    tenant_claim: str = "org_id"


class LLMSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    api_key: str | None = Field(default=None, repr=False)
    api_key_secret: str | None = None
    base_url: str | None = None
    model: str = "gpt-4o-mini"
    timeout_seconds: float = 120.0
    schema_retries: int = 2
    # The offline placeholder provider is allowed only off Google Cloud, and
    # only when no key is configured at all.
    offline_allowed: bool = True


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    project: str = "demo-genjobs"
    firestore_database: str = "(default)"
    events_topic: str = "generation-events"
    dead_letter_topic: str = "generation-events-dead-letter"
    lease_seconds: float = 30.0
    step_max_attempts: int = 5
    # A QUEUED run nobody picked up, or a released run nobody retried, is
    # re-published by the sweep after this long.
    redrive_after_seconds: float = 120.0
    # Fan-out steps of one run executed at once (1 = one after another).
    max_parallel_steps: int = 8
    log_level: str = "INFO"
    # Browser origins allowed to call the api (CORS); empty = same-origin only.
    cors_origins: tuple[str, ...] = ()
    auth: AuthSettings = AuthSettings()
    llm: LLMSettings = LLMSettings()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env

        def opt(name: str) -> str | None:
            value = e.get(name, "").strip()
            return value or None

        def num(name: str, default: float) -> float:
            value = opt(name)
            return float(value) if value is not None else default

        return cls(
            project=opt("GOOGLE_CLOUD_PROJECT") or "demo-genjobs",
            firestore_database=opt("FIRESTORE_DATABASE") or "(default)",
            events_topic=opt("EVENTS_TOPIC") or "generation-events",
            dead_letter_topic=opt("DEAD_LETTER_TOPIC") or "generation-events-dead-letter",
            lease_seconds=num("LEASE_SECONDS", 30.0),
            step_max_attempts=int(num("STEP_MAX_ATTEMPTS", 5)),
            redrive_after_seconds=num("REDRIVE_AFTER_SECONDS", 120.0),
            max_parallel_steps=int(num("MAX_PARALLEL_STEPS", 8)),
            log_level=opt("LOG_LEVEL") or "INFO",
            cors_origins=tuple(
                o.strip().rstrip("/")
                for o in (opt("CORS_ALLOWED_ORIGINS") or "").split(",")
                if o.strip()
            ),
            auth=AuthSettings(
                jwks_url=opt("AUTH_JWKS_URL"),
                jwks_file=opt("AUTH_JWKS_FILE"),
                issuer=opt("AUTH_ISSUER"),
                audience=opt("AUTH_AUDIENCE"),
                tenant_claim=opt("AUTH_TENANT_CLAIM") or "org_id",
            ),
            llm=LLMSettings(
                api_key=opt("OPENAI_API_KEY"),
                api_key_secret=opt("OPENAI_API_KEY_SECRET"),
                base_url=opt("OPENAI_BASE_URL"),
                model=opt("OPENAI_MODEL") or "gpt-4o-mini",
                timeout_seconds=num("OPENAI_TIMEOUT_SECONDS", 120.0),
                schema_retries=int(num("LLM_SCHEMA_RETRIES", 2)),
                # K_SERVICE is set by Cloud Run, which hosts gen2 functions.
                offline_allowed=opt("K_SERVICE") is None,
            ),
        )
