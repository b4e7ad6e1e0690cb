"""The OpenAI adapter asks for structured output and returns validated pydantic instances.

Exercised over real HTTP against devtools.openai_server: what is asserted is
the request the provider actually receives.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from devtools.openai_server import OpenAIServer, Reply
from tests.helpers.llm_support import Idea, make_test_key, openai_model


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(model="served-model") as running:
        yield running


def test_request_asks_for_json_schema_output_built_from_the_model(server: OpenAIServer) -> None:
    openai_model(server).generate(Idea, system="s", prompt="p", temperature=0.5)

    response_format = server.requests[0]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "Idea"
    schema = response_format["json_schema"]["schema"]
    assert set(schema["properties"]) == {"title", "score"}
    assert schema["additionalProperties"] is False
    assert response_format["json_schema"]["strict"] is True
    assert schema["properties"]["score"]["maximum"] == 1


def test_string_length_bounds_travel_as_descriptions_not_as_keywords(
    server: OpenAIServer,
) -> None:
    """Strict mode's documented subset has no minLength/maxLength: sending them risks a 400."""
    openai_model(server).generate(Idea, system="s", prompt="p", temperature=0.5)

    schema = server.requests[0]["response_format"]["json_schema"]["schema"]
    title = schema["properties"]["title"]
    assert "minLength" not in json.dumps(schema)
    assert "maxLength" not in json.dumps(schema)
    assert "5 to" in title["description"]


def test_an_answer_breaking_a_length_bound_is_still_rejected(server: OpenAIServer) -> None:
    from shared.errors import NonRetriableError

    server.responder = lambda request: Reply(content=json.dumps({"title": "x", "score": 0.5}))

    with pytest.raises(NonRetriableError, match="schema"):
        openai_model(server).generate(Idea, system="s", prompt="p", temperature=0.5)


def test_request_names_the_configured_model(server: OpenAIServer) -> None:
    openai_model(server, model="gpt-configured").generate(
        Idea, system="s", prompt="p", temperature=0.5
    )

    assert server.requests[0]["model"] == "gpt-configured"


def test_request_sends_system_then_user_message(server: OpenAIServer) -> None:
    openai_model(server).generate(
        Idea, system="You plan youth exchanges.", prompt="Ideas about water", temperature=0.5
    )

    assert server.requests[0]["messages"] == [
        {"role": "system", "content": "You plan youth exchanges."},
        {"role": "user", "content": "Ideas about water"},
    ]


@pytest.mark.parametrize("temperature", [0.0, 0.9])
def test_request_carries_the_exact_temperature(server: OpenAIServer, temperature: float) -> None:
    openai_model(server).generate(Idea, system="s", prompt="p", temperature=temperature)

    sent = server.requests[0]
    assert "temperature" in sent
    assert sent["temperature"] == temperature


def test_request_authenticates_with_the_configured_key(server: OpenAIServer) -> None:
    key = make_test_key()

    openai_model(server, api_key=key).generate(Idea, system="s", prompt="p", temperature=0.5)

    assert server.request_headers[0]["authorization"] == f"Bearer {key}"


def test_answer_is_returned_as_a_validated_model_instance(server: OpenAIServer) -> None:
    server.script(Reply(content=json.dumps({"title": "River clean-up week", "score": 0.7})))

    generation = openai_model(server).generate(Idea, system="s", prompt="p", temperature=0.5)

    assert generation.value == Idea(title="River clean-up week", score=0.7)


def test_generation_names_the_model_the_provider_says_answered(server: OpenAIServer) -> None:
    generation = openai_model(server, model="gpt-configured").generate(
        Idea, system="s", prompt="p", temperature=0.5
    )

    assert generation.model == "served-model"


def test_model_name_is_the_configured_model(server: OpenAIServer) -> None:
    assert openai_model(server, model="gpt-configured").model_name == "gpt-configured"
