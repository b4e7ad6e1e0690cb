"""Which language model a function gets, and where its key comes from.

The key is read from Secret Manager (a local REST double here, reached by
the real client) once per reader; the offline provider appears only when no
key is configured and the settings allow it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from devtools.openai_server import OpenAIServer, Reply
from shared.adapters.secrets import SecretReader
from shared.config import FallbackModel, LLMSettings
from shared.errors import NonRetriableError, TransientError
from shared.llm.breaker import MemoryBreakerStore
from shared.llm.factory import build_language_model
from shared.llm.failover import FailoverModel
from shared.llm.offline_model import OfflineLanguageModel
from shared.llm.openai_model import OpenAILanguageModel
from tests.helpers.llm_support import Idea, SecretManagerDouble, make_test_key

SECRET = "projects/p/secrets/s/versions/latest"


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as running:
        yield running


@pytest.fixture
def secret_key() -> str:
    return make_test_key()


@pytest.fixture
def secret_manager(secret_key: str) -> Iterator[SecretManagerDouble]:
    with SecretManagerDouble({SECRET: secret_key}) as double:
        yield double


def test_configured_key_gives_the_openai_model_with_the_configured_name_and_url(
    server: OpenAIServer,
) -> None:
    settings = LLMSettings(api_key=make_test_key(), base_url=server.base_url, model="gpt-x")

    model = build_language_model(settings)
    model.generate(Idea, system="s", prompt="p", temperature=0.5)

    # Without LLM_FALLBACKS the chain is the OpenAI model alone, with no breaker.
    assert isinstance(model, FailoverModel)
    [provider] = model.providers
    assert isinstance(provider.model, OpenAILanguageModel)
    assert provider.breaker is None
    assert model.model_name == "gpt-x"
    assert server.requests[0]["model"] == "gpt-x"


def test_configured_key_wins_over_the_offline_provider(server: OpenAIServer) -> None:
    settings = LLMSettings(api_key=make_test_key(), base_url=server.base_url, offline_allowed=True)

    assert not isinstance(build_language_model(settings), OfflineLanguageModel)


def test_no_key_gives_the_offline_provider_where_allowed() -> None:
    model = build_language_model(LLMSettings(offline_allowed=True))

    assert isinstance(model, OfflineLanguageModel)
    assert model.model_name == "offline"


def test_no_key_where_offline_is_not_allowed_is_non_retriable() -> None:
    with pytest.raises(NonRetriableError, match=r"No OpenAI key configured.*OPENAI_API_KEY_SECRET"):
        build_language_model(LLMSettings(offline_allowed=False))


def test_key_from_secret_manager_reaches_the_provider(
    server: OpenAIServer, secret_manager: SecretManagerDouble, secret_key: str
) -> None:
    settings = LLMSettings(api_key_secret=SECRET, base_url=server.base_url, offline_allowed=False)

    model = build_language_model(settings, SecretReader(secret_manager.client))
    model.generate(Idea, system="s", prompt="p", temperature=0.5)

    assert server.request_headers[0]["authorization"] == f"Bearer {secret_key}"


def test_a_key_secret_with_nothing_to_read_it_is_non_retriable() -> None:
    settings = LLMSettings(api_key_secret=SECRET, offline_allowed=False)

    with pytest.raises(NonRetriableError, match=r"secret .*nothing reads secrets"):
        build_language_model(settings)


def test_secret_is_fetched_once_for_several_builds_and_calls(
    server: OpenAIServer, secret_manager: SecretManagerDouble
) -> None:
    settings = LLMSettings(api_key_secret=SECRET, base_url=server.base_url)
    reader = SecretReader(secret_manager.client)

    for _ in range(2):
        model = build_language_model(settings, reader)
        model.generate(Idea, system="s", prompt="p", temperature=0.5)

    assert secret_manager.requests == [SECRET]
    assert len(server.requests) == 2


def test_concurrent_first_reads_fetch_the_secret_once(
    secret_manager: SecretManagerDouble, secret_key: str
) -> None:
    reader = SecretReader(secret_manager.client)
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(reader.read(SECRET))) for _ in range(8)
    ]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [secret_key] * 8
    assert secret_manager.requests == [SECRET]


def test_missing_secret_is_non_retriable_and_named(secret_manager: SecretManagerDouble) -> None:
    missing = "projects/p/secrets/absent/versions/latest"
    settings = LLMSettings(api_key_secret=missing)

    with pytest.raises(NonRetriableError, match=rf"Secret {missing} does not exist"):
        build_language_model(settings, SecretReader(secret_manager.client))


def test_secret_error_never_shows_the_secret_value(
    secret_manager: SecretManagerDouble, secret_key: str
) -> None:
    reader = SecretReader(secret_manager.client)
    reader.read(SECRET)

    assert secret_key not in repr(reader)


def test_unavailable_secret_manager_is_transient(secret_manager: SecretManagerDouble) -> None:
    secret_manager.status_override = 503

    with pytest.raises(TransientError, match=rf"unavailable reading {SECRET}"):
        SecretReader(secret_manager.client).read(SECRET)


def test_failed_read_is_not_cached(secret_manager: SecretManagerDouble, secret_key: str) -> None:
    reader = SecretReader(secret_manager.client)
    secret_manager.status_override = 503
    with pytest.raises(TransientError):
        reader.read(SECRET)

    secret_manager.status_override = None

    assert reader.read(SECRET) == secret_key


def test_a_fallbacks_key_comes_from_its_own_secret_read_once(
    server: OpenAIServer, secret_manager: SecretManagerDouble, secret_key: str
) -> None:
    fallback_secret = "projects/p/secrets/fallback/versions/latest"
    fallback_key = make_test_key()
    secret_manager.secrets[fallback_secret] = fallback_key
    reader = SecretReader(secret_manager.client)
    with OpenAIServer(model="fallback-model") as fallback:
        settings = LLMSettings(
            api_key_secret=SECRET,
            base_url=server.base_url,
            fallbacks=(
                FallbackModel(
                    model="fallback-model",
                    base_url=fallback.base_url,
                    api_key_secret=fallback_secret,
                ),
            ),
        )
        server.responder = lambda request: Reply(status=503)

        for _ in range(2):
            model = build_language_model(settings, reader, breaker_store=MemoryBreakerStore())
            model.generate(Idea, system="s", prompt="p", temperature=0.5)

        assert fallback.request_headers[0]["authorization"] == f"Bearer {fallback_key}"
        assert server.request_headers[0]["authorization"] == f"Bearer {secret_key}"
    assert sorted(secret_manager.requests) == sorted([SECRET, fallback_secret])


def test_a_fallback_without_a_key_of_its_own_uses_the_primarys(server: OpenAIServer) -> None:
    key = make_test_key()
    settings = LLMSettings(
        api_key=key,
        base_url=server.base_url,
        model="gpt-x",
        fallbacks=(FallbackModel(model="gpt-y"),),
    )
    server.script(Reply(status=500))

    model = build_language_model(settings, breaker_store=MemoryBreakerStore())
    model.generate(Idea, system="s", prompt="p", temperature=0.5)

    assert [r["model"] for r in server.requests] == ["gpt-x", "gpt-y"]  # same server
    assert {h["authorization"] for h in server.request_headers} == {f"Bearer {key}"}


def test_fallbacks_without_a_primary_key_are_refused_by_name() -> None:
    settings = LLMSettings(fallbacks=(FallbackModel(model="gpt-y"),), offline_allowed=True)

    with pytest.raises(NonRetriableError, match="LLM_FALLBACKS is set but the primary"):
        build_language_model(settings)
