"""Settings: documented defaults, every bad value refused at start naming its variable."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

import pytest

from devtools import REPO_ROOT
from shared.config import AuthSettings, LLMSettings, ModelPrice, Settings
from shared.errors import InvalidSettings


def _env_names() -> set[str]:
    names = {"K_SERVICE"}
    for group in (Settings, AuthSettings, LLMSettings):
        names |= {
            str(f.validation_alias) for f in group.model_fields.values() if f.validation_alias
        }
    return names


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _env_names():
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_the_documented_ones() -> None:
    s = Settings.from_env()
    assert (s.project, s.firestore_database) == ("demo-genjobs", "(default)")
    assert (s.events_topic, s.dead_letter_topic, s.results_topic) == (
        "generation-events",
        "generation-events-dead-letter",
        "generation-results",
    )
    assert (s.lease_seconds, s.step_max_attempts, s.redrive_after_seconds) == (12.0, 5, 120.0)
    assert s.lease_wait_seconds == 15.0
    assert (s.max_parallel_steps, s.tenant_max_active_runs, s.threads) == (8, 5, None)
    assert (s.log_level, s.cors_origins) == ("INFO", ())
    assert (s.trace_exporter, s.trace_file, s.trace_sample_ratio) == ("none", "traces.jsonl", 1.0)
    assert s.auth == AuthSettings(tenant_claim="org_id")
    assert (s.llm.model, s.llm.timeout_seconds, s.llm.schema_retries) == ("gpt-4o-mini", 120.0, 2)
    assert (s.llm.requests_per_minute, s.llm.tokens_per_minute) == (None, None)
    assert s.llm.offline_allowed
    assert (s.triggers_topic, s.trigger_tenants) == ("generation-triggers", frozenset())
    assert (
        s.tenant_creates_per_minute,
        s.tenant_daily_token_limit,
        s.tenant_daily_cost_limit_usd,
    ) == (None, None, None)


def test_stream_caps_default_to_half_the_threads_and_half_of_that_per_tenant(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("THREADS", "1000")  # Terraform's api_concurrency
    s = Settings.from_env()
    assert (s.events_max_streams, s.events_max_streams_per_tenant) == (None, None)
    assert (s.stream_capacity, s.stream_capacity_per_tenant) == (500, 250)


def test_a_tenants_stream_cap_never_exceeds_the_instances(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREADS", "80")
    monkeypatch.setenv("EVENTS_MAX_STREAMS", "30")
    monkeypatch.setenv("EVENTS_MAX_STREAMS_PER_TENANT", "50")
    s = Settings.from_env()
    assert (s.stream_capacity, s.stream_capacity_per_tenant) == (30, 30)


def test_streams_may_not_hold_every_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREADS", "40")
    monkeypatch.setenv("EVENTS_MAX_STREAMS", "40")
    with pytest.raises(InvalidSettings) as refused:
        Settings.from_env()
    assert str(refused.value).startswith(
        "invalid settings: EVENTS_MAX_STREAMS='40': must be below the instance's 40 threads"
    )


def test_default_prices_cover_the_default_models() -> None:
    prices = Settings.from_env().llm.prices
    assert prices["gpt-4o-mini"] == ModelPrice(input_per_million=0.15, output_per_million=0.60)
    assert prices["gpt-4o"] == ModelPrice(input_per_million=2.50, output_per_million=10.00)


def test_price_table_is_overridable_per_model(monkeypatch: pytest.MonkeyPatch) -> None:
    table = {
        "gpt-4o": {"inputPerMillion": 1, "outputPerMillion": 4},
        "local-llama": {"inputPerMillion": 0, "outputPerMillion": 0},
    }
    monkeypatch.setenv("LLM_PRICES", json.dumps(table))
    llm = Settings.from_env().llm
    assert llm.price_of("gpt-4o") == ModelPrice(input_per_million=1, output_per_million=4)
    assert llm.price_of("local-llama") == ModelPrice(input_per_million=0, output_per_million=0)
    assert llm.price_of("gpt-4o-mini") == ModelPrice(input_per_million=0.15, output_per_million=0.6)
    assert llm.price_of("unknown") is None


def test_cost_is_tokens_times_the_price_per_million() -> None:
    price = ModelPrice(input_per_million=2.5, output_per_million=10)
    assert price.cost_usd(prompt_tokens=1_000_000, completion_tokens=500_000) == 7.5


def test_environment_values_are_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "GOOGLE_CLOUD_PROJECT": "p-1",
        "RESULTS_TOPIC": "results-x",
        "LEASE_SECONDS": "2.5",
        "STEP_MAX_ATTEMPTS": "1",
        "MAX_PARALLEL_STEPS": "1",
        "TENANT_MAX_ACTIVE_RUNS": "1",
        "THREADS": "64",
        "LLM_REQUESTS_PER_MINUTE": "12",
        "LLM_TOKENS_PER_MINUTE": "40000",
        "LOG_LEVEL": " debug ",
        "CORS_ALLOWED_ORIGINS": "http://localhost:5173/, https://app.example.com",
        "AUTH_TENANT_CLAIM": "tid",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    s = Settings.from_env()
    assert (s.project, s.results_topic, s.lease_seconds) == ("p-1", "results-x", 2.5)
    assert (s.step_max_attempts, s.max_parallel_steps, s.tenant_max_active_runs) == (1, 1, 1)
    assert (s.threads, s.llm.requests_per_minute, s.llm.tokens_per_minute) == (64, 12, 40000)
    assert s.log_level == "DEBUG"
    assert s.cors_origins == ("http://localhost:5173", "https://app.example.com")
    assert s.auth.tenant_claim == "tid"


def test_empty_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_PARALLEL_STEPS", "")
    monkeypatch.setenv("LLM_REQUESTS_PER_MINUTE", "")
    s = Settings.from_env()
    assert (s.max_parallel_steps, s.llm.requests_per_minute) == (8, None)


def test_cloud_run_forbids_the_offline_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K_SERVICE", "worker")
    assert not Settings.from_env().llm.offline_allowed


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_PARALLEL_STEPS", "0"),
        ("MAX_PARALLEL_STEPS", "65"),
        ("STEP_MAX_ATTEMPTS", "0"),
        ("STEP_MAX_ATTEMPTS", "three"),
        ("LEASE_SECONDS", "-5"),
        ("LEASE_SECONDS", "0"),
        ("LEASE_WAIT_SECONDS", "-1"),
        ("LEASE_WAIT_SECONDS", "601"),
        ("REDRIVE_AFTER_SECONDS", "-1"),
        ("WAIT_IN_PROCESS_SECONDS", "-1"),
        ("WAIT_IN_PROCESS_SECONDS", "301"),
        ("REVIEW_TIMEOUT_SECONDS", "59"),
        ("REVIEW_TIMEOUT_SECONDS", "7776001"),
        ("TENANT_MAX_ACTIVE_RUNS", "0"),
        ("TENANT_CREATES_PER_MINUTE", "0"),
        ("TENANT_CREATES_PER_MINUTE", "1000001"),
        ("TENANT_DAILY_TOKEN_LIMIT", "0"),
        ("TENANT_DAILY_COST_LIMIT_USD", "-1"),
        ("TRIGGER_TENANTS", "org-a, org b"),
        ("THREADS", "0"),
        ("EVENTS_MAX_STREAMS", "0"),
        ("EVENTS_MAX_STREAMS", "1001"),
        ("EVENTS_MAX_STREAMS_PER_TENANT", "0"),
        ("HTTP_READ_TIMEOUT_SECONDS", "0"),
        ("HTTP_READ_TIMEOUT_SECONDS", "121"),
        ("LLM_REQUESTS_PER_MINUTE", "0"),
        ("LLM_TOKENS_PER_MINUTE", "-100"),
        ("LLM_SCHEMA_RETRIES", "-1"),
        ("OPENAI_TIMEOUT_SECONDS", "0"),
        ("OPENAI_BASE_URL", "localhost:8000"),
        ("AUTH_JWKS_URL", "file:///etc/jwks.json"),
        ("LOG_LEVEL", "LOUD"),
        ("TRACE_EXPORTER", "jaeger"),
        ("TRACE_SAMPLE_RATIO", "1.5"),
        ("TRACE_SAMPLE_RATIO", "-0.1"),
        ("CORS_ALLOWED_ORIGINS", "localhost:3000"),
        ("LLM_PRICES", "{not json"),
        ("LLM_PRICES", '["gpt-4o"]'),
        ("LLM_PRICES", '{"gpt-4o": {"inputPerMillion": -1, "outputPerMillion": 1}}'),
        ("LLM_PRICES", '{"gpt-4o": {"inputPerMillion": 1}}'),
        ("LLM_FALLBACKS", "{not json"),
        ("LLM_FALLBACKS", '{"model": "gpt-4o"}'),
        ("LLM_FALLBACKS", '[{"model": ""}]'),
        ("LLM_FALLBACKS", '[{"model": "gpt-4o", "baseUrl": "localhost:8000"}]'),
        ("LLM_FALLBACKS", '[{"model": "gpt-4o", "apiKeySecret": "my-secret"}]'),
        ("LLM_FALLBACKS", '[{"model": "gpt-4o", "apiKeyEnv": "NOT A NAME"}]'),
        ("LLM_FALLBACKS", '[{"model": "gpt-4o", "apiKey": "inline keys are refused"}]'),
        ("LLM_FALLBACKS", '[{"model": "gpt-4o", "apiKeyEnv": "K", "apiKeySecret": "x"}]'),
        ("LLM_FALLBACKS", '[{"model": "gpt-4o-mini"}]'),
        ("LLM_FALLBACKS", '[{"model": "gpt-4o"}, {"model": "gpt-4o"}]'),
        ("LLM_FALLBACKS", json.dumps([{"model": f"m{i}"} for i in range(5)])),
        ("LLM_RATE_LIMIT_MAX_WAIT_SECONDS", "-1"),
        ("LLM_RATE_LIMIT_MAX_WAIT_SECONDS", "301"),
        ("LLM_BREAKER_FAILURES", "0"),
        ("LLM_BREAKER_WINDOW_SECONDS", "0.5"),
        ("LLM_BREAKER_COOLDOWN_SECONDS", "3601"),
    ],
)
def test_bad_value_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidSettings) as refused:
        Settings.from_env()
    assert str(refused.value).startswith(f"invalid settings: {name}")


def test_every_bad_value_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_PARALLEL_STEPS", "0")
    monkeypatch.setenv("STEP_MAX_ATTEMPTS", "0")
    monkeypatch.setenv("OPENAI_TIMEOUT_SECONDS", "-1")
    monkeypatch.setenv("AUTH_TENANT_CLAIM", " ")
    with pytest.raises(InvalidSettings) as refused:
        Settings.from_env()
    message = str(refused.value)
    assert "MAX_PARALLEL_STEPS='0': Input should be greater than or equal to 1" in message
    for name in ("STEP_MAX_ATTEMPTS", "OPENAI_TIMEOUT_SECONDS", "AUTH_TENANT_CLAIM"):
        assert name in message


def test_settings_built_in_code_never_read_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-" + secrets.token_hex(8))
    monkeypatch.setenv("MAX_PARALLEL_STEPS", "3")
    assert LLMSettings().api_key is None
    assert Settings().max_parallel_steps == 8


def test_settings_built_in_code_are_bounds_checked_too() -> None:
    with pytest.raises(ValueError, match="max_parallel_steps"):
        Settings(max_parallel_steps=0)


@pytest.mark.parametrize("entry_point", ["api", "worker"])
def test_entry_point_refuses_to_start_with_a_bad_setting(entry_point: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in _env_names()}
    env["MAX_PARALLEL_STEPS"] = "0"
    started = subprocess.run(
        [sys.executable, "-c", f"import functions.{entry_point}.main"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode != 0
    assert "InvalidSettings: invalid settings: MAX_PARALLEL_STEPS='0'" in started.stderr


def test_fallbacks_are_read_in_order_with_their_endpoints_and_key_sources(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = "test-" + secrets.token_hex(8)
    monkeypatch.setenv("FALLBACK_KEY", key)
    fallbacks = [
        {"model": "gpt-4o"},
        {"model": "llama", "baseUrl": "http://127.0.0.1:9/v1", "apiKeyEnv": "FALLBACK_KEY"},
        {"model": "other", "apiKeySecret": "projects/p/secrets/other-key/versions/3"},
    ]
    monkeypatch.setenv("LLM_FALLBACKS", json.dumps(fallbacks))

    read = Settings.from_env().llm.fallbacks

    assert [f.model for f in read] == ["gpt-4o", "llama", "other"]
    assert (read[0].base_url, read[0].api_key, read[0].api_key_secret) == (None, None, None)
    assert (read[1].base_url, read[1].api_key) == ("http://127.0.0.1:9/v1", key)
    assert read[2].api_key_secret == "projects/p/secrets/other-key/versions/3"
    assert key not in repr(read)


def test_a_fallback_key_variable_that_is_not_set_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ABSENT_FALLBACK_KEY", raising=False)
    monkeypatch.setenv("LLM_FALLBACKS", '[{"model": "gpt-4o", "apiKeyEnv": "ABSENT_FALLBACK_KEY"}]')

    with pytest.raises(
        InvalidSettings, match=r"LLM_FALLBACKS\[0\].*ABSENT_FALLBACK_KEY is not set"
    ):
        Settings.from_env()


def test_failover_defaults_are_the_documented_ones() -> None:
    llm = Settings.from_env().llm
    assert llm.fallbacks == ()
    assert llm.rate_limit_max_wait_seconds == 10.0
    assert (llm.breaker_failures, llm.breaker_window_seconds, llm.breaker_cooldown_seconds) == (
        5,
        60.0,
        60.0,
    )
