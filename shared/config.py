"""Every setting of both functions, read from the environment in one place.

Nothing else in `shared` reads `os.environ`. Each setting is declared once
here, with its environment variable, default and bounds; `Settings.from_env()`
reads them all and refuses a bad value with `InvalidSettings`, naming the
variable, so a misconfigured instance stops at start instead of failing runs.
Building a settings object in code (tests do) never reads the environment.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from shared.errors import InvalidSettings

# Topic names when no setting says otherwise (Terraform's defaults are the same).
DEFAULT_EVENTS_TOPIC = "generation-events"
DEFAULT_DEAD_LETTER_TOPIC = "generation-events-dead-letter"
DEFAULT_RESULTS_TOPIC = "generation-results"
DEFAULT_TRIGGERS_TOPIC = "generation-triggers"

_URL = re.compile(r"https?://[^\s/]+(/\S*)?")
# A browser origin as the Origin header carries it, or "*" for any.
_ORIGIN = re.compile(r"\*|https?://[^\s/]+")
# A tenant id as a trigger event may name it (a JWT's tenant claim has no
# rule of ours; an event's tenant is checked against this).
TENANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}")


class _Group(BaseSettings):
    """A group of settings: from keyword arguments in code, from the environment in `from_env`.

    Fields are validated by their environment variable name (the alias) or by
    their Python name; the environment is consulted only by `Settings.from_env`,
    so a test's settings never pick up a developer's exported key.
    """

    model_config = SettingsConfigDict(
        frozen=True,
        str_strip_whitespace=True,
        case_sensitive=True,
        env_ignore_empty=True,
        validate_by_name=True,
        validate_by_alias=True,
        extra="forbid",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def _check_url(value: str | None) -> str | None:
    if value is not None and not _URL.fullmatch(value):
        raise ValueError("must be an http:// or https:// URL")
    return value


class AuthSettings(_Group):
    jwks_url: str | None = Field(default=None, validation_alias="AUTH_JWKS_URL")
    jwks_file: str | None = Field(default=None, validation_alias="AUTH_JWKS_FILE")
    issuer: str | None = Field(default=None, validation_alias="AUTH_ISSUER")
    audience: str | None = Field(default=None, validation_alias="AUTH_AUDIENCE")
    tenant_claim: str = Field(default="org_id", min_length=1, validation_alias="AUTH_TENANT_CLAIM")

    _jwks_url_is_a_url = field_validator("jwks_url")(_check_url)


class ModelPrice(BaseModel):
    """What a model costs, in US dollars per million tokens."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True)

    input_per_million: float = Field(ge=0, alias="inputPerMillion")
    output_per_million: float = Field(ge=0, alias="outputPerMillion")

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million
        ) / 1_000_000


# OpenAI's list prices (standard tier) when this was written; LLM_PRICES
# overrides a model's entry or adds models.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    "gpt-4o-mini": ModelPrice(input_per_million=0.15, output_per_million=0.60),
    "gpt-4o": ModelPrice(input_per_million=2.50, output_per_million=10.00),
}


# A Secret Manager version name, as OPENAI_API_KEY_SECRET holds it.
_SECRET_VERSION = re.compile(r"projects/[^/\s]+/secrets/[^/\s]+/versions/[^/\s]+")
# An environment variable's name (for a fallback's apiKeyEnv).
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Fallback models at most: each one a failing call can cost another model
# latency before the step gives up, so the chain stays short.
MAX_FALLBACKS = 4


class FallbackModel(BaseModel):
    """One entry of LLM_FALLBACKS: a model tried when the ones before it fail.

    Without `baseUrl` it is served where the primary is (OPENAI_BASE_URL);
    its key is a Secret Manager version (`apiKeySecret`), an environment
    variable named by `apiKeyEnv` (read once, by `Settings.from_env`), or,
    with neither, the primary's key.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_by_name=True, str_strip_whitespace=True
    )

    model: str = Field(min_length=1, max_length=200)
    base_url: str | None = Field(default=None, alias="baseUrl")
    api_key_secret: str | None = Field(default=None, alias="apiKeySecret")
    api_key_env: str | None = Field(default=None, alias="apiKeyEnv")
    # The value of `apiKeyEnv`, filled in by `Settings.from_env` (never from JSON).
    api_key: str | None = Field(default=None, repr=False, exclude=True)

    _base_url_is_a_url = field_validator("base_url")(_check_url)

    @field_validator("api_key_secret")
    @classmethod
    def _secret_is_a_version(cls, value: str | None) -> str | None:
        if value is not None and not _SECRET_VERSION.fullmatch(value):
            raise ValueError(
                "apiKeySecret must be a secret version: projects/<p>/secrets/<s>/versions/<v>"
            )
        return value

    @field_validator("api_key_env")
    @classmethod
    def _env_is_a_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.fullmatch(value):
            raise ValueError("apiKeyEnv must be an environment variable's name")
        return value

    @model_validator(mode="after")
    def _one_key_source(self) -> FallbackModel:
        if self.api_key_secret is not None and self.api_key_env is not None:
            raise ValueError("give apiKeySecret or apiKeyEnv, not both")
        return self


class LLMSettings(_Group):
    api_key: str | None = Field(default=None, repr=False, validation_alias="OPENAI_API_KEY")
    api_key_secret: str | None = Field(default=None, validation_alias="OPENAI_API_KEY_SECRET")
    base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    model: str = Field(default="gpt-4o-mini", min_length=1, validation_alias="OPENAI_MODEL")
    timeout_seconds: float = Field(
        default=120.0, gt=0, le=3600, validation_alias="OPENAI_TIMEOUT_SECONDS"
    )
    schema_retries: int = Field(default=2, ge=0, le=10, validation_alias="LLM_SCHEMA_RETRIES")
    # A budget shared by every instance; None = no limit.
    requests_per_minute: int | None = Field(
        default=None, gt=0, validation_alias="LLM_REQUESTS_PER_MINUTE"
    )
    tokens_per_minute: int | None = Field(
        default=None, gt=0, validation_alias="LLM_TOKENS_PER_MINUTE"
    )
    # Per-model prices for usage cost; LLM_PRICES (JSON) entries are merged over
    # the defaults.
    prices: Annotated[dict[str, ModelPrice], NoDecode] = Field(
        default=DEFAULT_PRICES, validation_alias="LLM_PRICES"
    )
    # Models tried in order when the primary fails in a way another provider
    # could avoid (see docs/architecture.md, "Model failover").
    fallbacks: Annotated[tuple[FallbackModel, ...], NoDecode] = Field(
        default=(), validation_alias="LLM_FALLBACKS"
    )
    # A provider's 429 asking to wait up to this long is waited out in
    # process; a longer one switches to the next model (or, with none left,
    # hands the run back until the wait is over).
    rate_limit_max_wait_seconds: float = Field(
        default=10.0, ge=0, le=300, validation_alias="LLM_RATE_LIMIT_MAX_WAIT_SECONDS"
    )
    # The circuit breaker shared by every instance (only with fallbacks):
    # after LLM_BREAKER_FAILURES failures of a model within
    # LLM_BREAKER_WINDOW_SECONDS, calls skip it for LLM_BREAKER_COOLDOWN_SECONDS,
    # then one probe call decides whether it is back.
    breaker_failures: int = Field(default=5, ge=1, le=1000, validation_alias="LLM_BREAKER_FAILURES")
    breaker_window_seconds: float = Field(
        default=60.0, ge=1, le=3600, validation_alias="LLM_BREAKER_WINDOW_SECONDS"
    )
    breaker_cooldown_seconds: float = Field(
        default=60.0, ge=1, le=3600, validation_alias="LLM_BREAKER_COOLDOWN_SECONDS"
    )
    # Ask for streamed answers (`stream: true`) and show each completed item
    # (a seed, a day's session, a concept's section) while the step runs
    # (docs/architecture.md, "Live output"); off: whole answers, as before.
    stream: bool = Field(default=True, validation_alias="LLM_STREAM")
    # The offline placeholder provider is allowed only off Google Cloud, and
    # only when no key is configured at all (`from_env` sets it from K_SERVICE).
    offline_allowed: bool = True

    _base_url_is_a_url = field_validator("base_url")(_check_url)

    @field_validator("prices", mode="before")
    @classmethod
    def _merge_prices(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as error:
                raise ValueError(f"must be a JSON object ({error.msg})") from None
        if not isinstance(value, dict):
            raise ValueError('must be a JSON object {"<model>": {"inputPerMillion": ..., ...}}')
        return {**DEFAULT_PRICES, **value}

    @field_validator("fallbacks", mode="before")
    @classmethod
    def _parse_fallbacks(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as error:
                raise ValueError(f"must be a JSON list ({error.msg})") from None
        if not isinstance(value, list | tuple):
            raise ValueError('must be a JSON list [{"model": ..., "baseUrl"?: ...}, ...]')
        if len(value) > MAX_FALLBACKS:
            raise ValueError(f"at most {MAX_FALLBACKS} fallback models")
        return value

    @field_validator("fallbacks", mode="after")
    @classmethod
    def _distinct_models(
        cls, value: tuple[FallbackModel, ...], info: ValidationInfo
    ) -> tuple[FallbackModel, ...]:
        # The primary's fields are declared (so validated) before this one.
        base_url = info.data.get("base_url")
        seen = {(info.data.get("model"), base_url)}
        for fallback in value:
            where = (fallback.model, fallback.base_url or base_url)
            if where in seen:
                raise ValueError(
                    f"model {fallback.model!r} at that base URL is already "
                    "the primary or an earlier fallback"
                )
            seen.add(where)
        return value

    def price_of(self, model: str) -> ModelPrice | None:
        return self.prices.get(model)


class Settings(_Group):
    project: str = Field(
        default="demo-genjobs", min_length=1, validation_alias="GOOGLE_CLOUD_PROJECT"
    )
    firestore_database: str = Field(
        default="(default)", min_length=1, validation_alias="FIRESTORE_DATABASE"
    )
    events_topic: str = Field(
        default=DEFAULT_EVENTS_TOPIC, min_length=1, validation_alias="EVENTS_TOPIC"
    )
    dead_letter_topic: str = Field(
        default=DEFAULT_DEAD_LETTER_TOPIC,
        min_length=1,
        validation_alias="DEAD_LETTER_TOPIC",
    )
    # Every terminal transition of a run is published here.
    results_topic: str = Field(
        default=DEFAULT_RESULTS_TOPIC, min_length=1, validation_alias="RESULTS_TOPIC"
    )
    # Backends start runs by publishing events here (docs/api.md, "Triggers").
    triggers_topic: str = Field(
        default=DEFAULT_TRIGGERS_TOPIC, min_length=1, validation_alias="TRIGGERS_TOPIC"
    )
    # Tenants a trigger event may start runs for; empty = any tenant. Anyone
    # allowed to publish to the triggers topic acts for these tenants.
    trigger_tenants: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(), validation_alias="TRIGGER_TENANTS"
    )
    # Admission per tenant (HTTP creates and trigger events alike); None = no limit.
    # Runs created in any 60 s; the limit is shared by every instance.
    tenant_creates_per_minute: int | None = Field(
        default=None, gt=0, le=1_000_000, validation_alias="TENANT_CREATES_PER_MINUTE"
    )
    # Tokens and estimated cost of a UTC day; over them creates are refused
    # until the next day (runs already started finish).
    tenant_daily_token_limit: int | None = Field(
        default=None, gt=0, validation_alias="TENANT_DAILY_TOKEN_LIMIT"
    )
    tenant_daily_cost_limit_usd: float | None = Field(
        default=None, gt=0, le=1_000_000, validation_alias="TENANT_DAILY_COST_LIMIT_USD"
    )
    # How long an instance reuses a tenant's day as read for the daily limits
    # (0: read at every create).
    tenant_quota_cache_seconds: float = Field(
        default=10.0, ge=0, le=300, validation_alias="TENANT_QUOTA_CACHE_SECONDS"
    )
    # A runner's lease on a run, renewed every third of it while a step runs:
    # a worker that dies (OOM, crash) holds its runs at most this long.
    lease_seconds: float = Field(default=12.0, gt=0, le=3600, validation_alias="LEASE_SECONDS")
    # How long a delivery that finds another's lease about to run out waits
    # for it (holding the push) before taking the run over; 0: never waits.
    lease_wait_seconds: float = Field(
        default=15.0, ge=0, le=600, validation_alias="LEASE_WAIT_SECONDS"
    )
    step_max_attempts: int = Field(default=5, ge=1, le=100, validation_alias="STEP_MAX_ATTEMPTS")
    # A QUEUED run nobody picked up, or a released run nobody retried, is
    # re-published by the sweep after this long.
    redrive_after_seconds: float = Field(
        default=120.0, gt=0, validation_alias="REDRIVE_AFTER_SECONDS"
    )
    # A sleep step at most this long is slept inside the delivery (it holds the
    # lease); a longer one parks the run WAITING and the sweep wakes it, within
    # one tick (SWEEP_SECONDS locally, Cloud Scheduler's minute in Cloud).
    wait_in_process_seconds: float = Field(
        default=10.0, ge=0, le=300, validation_alias="WAIT_IN_PROCESS_SECONDS"
    )
    # How long a programme created with `review: true` waits for its review
    # before it ends FAILED (default 7 days; at least a minute, at most 90 days).
    review_timeout_seconds: int = Field(
        default=7 * 24 * 3600, ge=60, le=90 * 24 * 3600, validation_alias="REVIEW_TIMEOUT_SECONDS"
    )
    # Fan-out steps of one run executed at once (1 = one after another).
    max_parallel_steps: int = Field(default=8, ge=1, le=64, validation_alias="MAX_PARALLEL_STEPS")
    # A run's streamed items are written (as its live progress) at most once
    # per this many seconds, whatever the model's pace: never once per token.
    stream_flush_seconds: float = Field(
        default=0.5, ge=0.05, le=10, validation_alias="STREAM_FLUSH_SECONDS"
    )
    # Runs of one tenant executing at once; the others wait QUEUED.
    tenant_max_active_runs: int = Field(default=5, ge=1, validation_alias="TENANT_MAX_ACTIVE_RUNS")
    # Requests one instance serves at once. functions-framework's gunicorn
    # reads it itself; it is declared here so a bad value stops the start.
    threads: int | None = Field(default=None, ge=1, le=1000, validation_alias="THREADS")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", validation_alias="LOG_LEVEL"
    )
    # Where spans go (`shared.tracing`): nowhere (log lines still carry trace
    # ids), Cloud Trace, stdout, or a JSON-lines file (TRACE_FILE).
    trace_exporter: Literal["none", "cloud", "console", "file"] = Field(
        default="none", validation_alias="TRACE_EXPORTER"
    )
    trace_file: str = Field(
        default="traces.jsonl", min_length=1, max_length=1000, validation_alias="TRACE_FILE"
    )
    # The share of traces kept, decided at each trace's root (a run's trace is
    # kept whole or not); failed step attempts are kept whatever it says.
    trace_sample_ratio: float = Field(
        default=1.0, ge=0.0, le=1.0, validation_alias="TRACE_SAMPLE_RATIO"
    )
    # A run's event stream (SSE) sends a comment after this much silence, so
    # proxies do not cut it as idle, and a client that went away is noticed
    # (a write fails) within this time.
    events_keepalive_seconds: float = Field(
        default=15.0, gt=0, le=300, validation_alias="EVENTS_KEEPALIVE_SECONDS"
    )
    # A run's event stream ends itself after this long and the client
    # reconnects: keep it below the api's request timeout (Terraform: 60 s),
    # or Cloud Run cuts the stream mid-event.
    events_stream_seconds: float = Field(
        default=50.0, gt=0, le=3600, validation_alias="EVENTS_STREAM_SECONDS"
    )
    # Run event streams (SSE) one api instance serves at once. Each open stream
    # holds one of the instance's THREADS, so the cap keeps threads for every
    # other request: unset, it is half of the threads (THREADS, else
    # functions-framework's default of 4 per CPU; 500 with Terraform's 1000);
    # set, it must stay below them.
    events_max_streams: int | None = Field(
        default=None, ge=1, le=1000, validation_alias="EVENTS_MAX_STREAMS"
    )
    # Of those, the streams one tenant may hold open on one instance, so one
    # tenant cannot take every stream slot; unset, half of the instance's.
    events_max_streams_per_tenant: int | None = Field(
        default=None, ge=1, le=1000, validation_alias="EVENTS_MAX_STREAMS_PER_TENANT"
    )
    # The api's server answers 408 and closes a connection whose request (its
    # head, and a body of up to 64 kB) has not fully arrived this long after
    # its first byte; until then no thread waits for it. A dispatched request
    # whose reads or writes stall this long ends (shared/http/server.py).
    http_read_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, validation_alias="HTTP_READ_TIMEOUT_SECONDS"
    )
    # Browser origins allowed to call the api (CORS); empty = same-origin only.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), validation_alias="CORS_ALLOWED_ORIGINS"
    )
    auth: AuthSettings = AuthSettings()
    llm: LLMSettings = LLMSettings()

    @property
    def redrive_after(self) -> timedelta:
        return timedelta(seconds=self.redrive_after_seconds)

    @property
    def serving_threads(self) -> int:
        """Requests one instance serves at once: THREADS, else functions-framework's default."""
        return self.threads or _default_threads()

    @property
    def stream_capacity(self) -> int:
        """Run event streams this instance serves at once (EVENTS_MAX_STREAMS or its default)."""
        return self.events_max_streams or max(1, self.serving_threads // 2)

    @property
    def stream_capacity_per_tenant(self) -> int:
        """Streams one tenant may hold open on this instance, never above the instance's."""
        wanted = self.events_max_streams_per_tenant or max(1, self.stream_capacity // 2)
        return min(wanted, self.stream_capacity)

    @field_validator("events_max_streams")
    @classmethod
    def _streams_leave_threads(cls, value: int | None, info: ValidationInfo) -> int | None:
        threads = info.data.get("threads") or _default_threads()
        if value is not None and value >= threads:
            raise ValueError(
                f"must be below the instance's {threads} threads (THREADS), so that "
                "streams can never hold every thread"
            )
        return value

    @field_validator("trace_exporter", mode="before")
    @classmethod
    def _lower_case_exporter(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case_level(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        for origin in value:
            if not isinstance(origin, str) or not _ORIGIN.fullmatch(origin):
                raise ValueError(f"{origin!r} is not an origin such as https://app.example.com")
        return value

    @field_validator("trigger_tenants", mode="before")
    @classmethod
    def _split_tenants(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [t.strip() for t in value.split(",") if t.strip()]
        for tenant in value:
            if not isinstance(tenant, str) or not TENANT_ID.fullmatch(tenant):
                raise ValueError(
                    f"{tenant!r} is not a tenant id (1-128 letters, digits and _ . : @ -)"
                )
        return frozenset(value)

    @classmethod
    def from_env(cls) -> Settings:
        """All settings from the process environment; `InvalidSettings` names every bad one."""
        problems: list[str] = []

        def read(group: type[_G], **extra: Any) -> _G | None:
            source = EnvSettingsSource(group)
            try:
                return group(**source(), **extra)
            except ValidationError as error:
                problems.extend(_describe(e) for e in error.errors())
                return None

        env = EnvSettingsSource(cls).env_vars
        auth = read(AuthSettings)
        # K_SERVICE is set by Cloud Run, which hosts gen2 functions.
        llm = read(LLMSettings, offline_allowed=env.get("K_SERVICE") is None)
        if llm is not None:
            llm = _with_fallback_keys(llm, env, problems)
        groups = {"auth": auth, "llm": llm}
        settings = read(cls, **{name: group for name, group in groups.items() if group})
        if settings is None or problems:
            raise InvalidSettings("invalid settings: " + "; ".join(problems))
        return settings


def _with_fallback_keys(llm: LLMSettings, env: Any, problems: list[str]) -> LLMSettings:
    """Fill in each fallback's key from the variable its `apiKeyEnv` names (read once, here)."""
    filled: list[FallbackModel] = []
    for index, fallback in enumerate(llm.fallbacks):
        if fallback.api_key_env is None:
            filled.append(fallback)
            continue
        value = env.get(fallback.api_key_env)
        if not value or not value.strip():
            problems.append(
                f"LLM_FALLBACKS[{index}].apiKeyEnv: variable {fallback.api_key_env} is not set"
            )
            continue
        filled.append(fallback.model_copy(update={"api_key": value.strip()}))
    return llm.model_copy(update={"fallbacks": tuple(filled)})


def _default_threads() -> int:
    """functions-framework's gunicorn threads when THREADS is unset: 4 per CPU."""
    return (os.cpu_count() or 1) * 4


_G = TypeVar("_G", bound=_Group)
# Values never repeated in a message, even when wrong.
_SECRET_VARIABLES = frozenset({"OPENAI_API_KEY"})


def _describe(error: Any) -> str:
    name = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    if error["loc"][0] in _SECRET_VARIABLES or not isinstance(value, str):
        return f"{name}: {message}"
    return f"{name}={value!r}: {message}"


class LocalStackSettings(_Group):
    """Settings of the local stack only (`make emulators`, `make dev`): devtools reads them,
    the functions never do. Declared here so that every setting is bounds-checked in one place.
    """

    # Pushes of one subscription in flight at once (`devtools.push`): the cap
    # of its window, which Cloud's push also opens as deliveries succeed.
    push_max_in_flight: int = Field(
        default=100, ge=1, le=1000, validation_alias="PUSH_MAX_IN_FLIGHT"
    )

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> LocalStackSettings:
        """From an environment mapping; `InvalidSettings` names every bad variable."""
        names = [field.validation_alias for field in cls.model_fields.values()]
        given: dict[str, Any] = {
            name: env[name] for name in names if isinstance(name, str) and env.get(name)
        }
        try:
            return cls.model_validate(given)
        except ValidationError as error:
            problems = "; ".join(_describe(e) for e in error.errors())
            raise InvalidSettings("invalid settings: " + problems) from None
