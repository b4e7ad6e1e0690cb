"""Provider failures arrive as TransientError (worth another attempt) or NonRetriableError.

The engine retries the first through Pub/Sub and fails the run at once on
the second, so the sorting here decides whether a run retries or fails.
"""

from __future__ import annotations

import json
import socket
import traceback
from collections.abc import Iterator

import pytest

from devtools.openai_server import OpenAIServer, Reply
from shared.errors import NonRetriableError, TransientError
from shared.llm.interface import Generation
from shared.llm.openai_model import OpenAILanguageModel
from tests.helpers.llm_support import Idea, make_test_key, openai_model

VALID = json.dumps({"title": "Street art for inclusion", "score": 0.8})
SCHEMA_VIOLATING = json.dumps({"title": "x", "score": 3})


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as running:
        yield running


def generate(model: OpenAILanguageModel) -> Generation[Idea]:
    return model.generate(Idea, system="s", prompt="p", temperature=0.5)


def test_rate_limit_is_transient(server: OpenAIServer) -> None:
    server.script(Reply(status=429))

    with pytest.raises(TransientError, match=r"rate-limited.*HTTP 429"):
        generate(openai_model(server))


def test_server_error_is_transient(server: OpenAIServer) -> None:
    server.script(Reply(status=500))

    with pytest.raises(TransientError, match=r"HTTP 500"):
        generate(openai_model(server))


def test_failed_request_is_left_to_the_engine_to_retry(server: OpenAIServer) -> None:
    server.script(Reply(status=503), Reply(content=VALID))

    with pytest.raises(TransientError):
        generate(openai_model(server))

    assert len(server.requests) == 1


def test_timeout_is_transient(server: OpenAIServer) -> None:
    server.script(Reply(content=VALID, delay=2.0))

    with pytest.raises(TransientError, match=r"did not answer within 0.3 s"):
        generate(openai_model(server, timeout_seconds=0.3))


def test_unreachable_provider_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    model = OpenAILanguageModel(
        api_key=make_test_key(),
        base_url=f"http://127.0.0.1:{free_port}/v1",
        model="gpt-test",
        timeout_seconds=2.0,
        schema_retries=0,
    )

    with pytest.raises(TransientError, match=r"Could not connect"):
        generate(model)


def test_http_body_that_is_not_json_is_transient(server: OpenAIServer) -> None:
    server.script(Reply(body="<html>502 Bad Gateway</html>"))

    with pytest.raises(TransientError, match=r"not JSON"):
        generate(openai_model(server))


def test_rejected_credentials_are_non_retriable(server: OpenAIServer) -> None:
    server.script(Reply(status=401))

    with pytest.raises(NonRetriableError, match=r"rejected the credentials \(HTTP 401\)"):
        generate(openai_model(server))


def test_rejected_credentials_error_never_shows_the_key(server: OpenAIServer) -> None:
    # The double echoes the key in its 401 message, as the real API does.
    key = make_test_key()
    server.script(Reply(status=401))

    with pytest.raises(NonRetriableError) as caught:
        generate(openai_model(server, api_key=key))

    logged = "".join(traceback.format_exception(caught.value))
    assert key not in logged


def test_bad_request_is_non_retriable_and_quotes_the_provider(server: OpenAIServer) -> None:
    server.script(Reply(status=400, content="Invalid schema for response_format"))

    with pytest.raises(NonRetriableError, match=r"HTTP 400.*Invalid schema for response_format"):
        generate(openai_model(server))


def test_answer_that_is_not_json_is_asked_again_and_then_succeeds(server: OpenAIServer) -> None:
    server.script(Reply(content="Sure! Here are your ideas: ..."), Reply(content=VALID))

    generation = generate(openai_model(server, schema_retries=2))

    assert generation.value == Idea.model_validate_json(VALID)
    assert len(server.requests) == 2


def test_second_try_tells_the_model_what_was_wrong(server: OpenAIServer) -> None:
    server.script(Reply(content=SCHEMA_VIOLATING), Reply(content=VALID))

    generate(openai_model(server, schema_retries=2))

    retry_messages = server.requests[1]["messages"]
    assert retry_messages[:2] == server.requests[0]["messages"]
    assert "title" in retry_messages[-1]["content"]
    assert "rejected" in retry_messages[-1]["content"]


def test_answer_that_keeps_violating_the_schema_fails_after_its_retries(
    server: OpenAIServer,
) -> None:
    server.responder = lambda _request: Reply(content=SCHEMA_VIOLATING)

    with pytest.raises(NonRetriableError) as caught:
        generate(openai_model(server, schema_retries=2))

    assert len(server.requests) == 3
    assert str(caught.value).startswith(
        "The model's answer did not match the required schema after 3 tries: title:"
    )


def test_refusal_is_non_retriable_and_quotes_the_model(server: OpenAIServer) -> None:
    server.script(Reply(refusal="I can't help with that request."))

    with pytest.raises(NonRetriableError, match=r"The model refused: I can't help with that"):
        generate(openai_model(server))

    assert len(server.requests) == 1


def test_truncated_answer_is_non_retriable(server: OpenAIServer) -> None:
    server.script(Reply(content='{"title": "River clean', finish_reason="length"))

    with pytest.raises(NonRetriableError, match=r"cut off"):
        generate(openai_model(server))

    assert len(server.requests) == 1


def test_content_filter_is_non_retriable(server: OpenAIServer) -> None:
    server.script(Reply(finish_reason="content_filter"))

    with pytest.raises(NonRetriableError, match=r"content filter"):
        generate(openai_model(server))
