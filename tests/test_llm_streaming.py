"""Streamed answers (LLM_STREAM): items as they close, usage from the last chunk, broken streams.

The adapter talks real HTTP to the OpenAI double, which streams Chat
Completions chunks (`devtools.openai_stream`) and can break mid-stream.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest

from devtools.openai_server import Break, OpenAIServer, Reply
from shared.errors import TransientError
from shared.llm.streaming import ItemParser
from tests.helpers.llm_support import Idea, Ideas, RecordingSink, openai_model

THREE = json.dumps({"ideas": [{"title": f"Idea number {n}", "score": 0.5} for n in range(3)]})


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as running:
        yield running


def test_the_parser_hands_over_each_item_when_it_closes_and_not_before():
    parser = ItemParser(Ideas)
    seen = [len(parser.feed(THREE[i : i + 3])) for i in range(0, len(THREE), 3)]

    closing = [THREE.index("}", THREE.index(f"Idea number {n}")) for n in range(3)]
    assert [i for i, count in enumerate(seen) if count] == [c // 3 for c in closing]
    assert parser.count == 3


def test_an_answer_of_sections_is_handed_over_section_by_section():
    parser = ItemParser(Idea)
    text = json.dumps({"title": "Street art", "score": 0.25})
    found = [item for i in range(0, len(text), 2) for item in parser.feed(text[i : i + 2])]
    found += parser.close()

    assert found == [{"name": "title", "value": "Street art"}, {"name": "score", "value": 0.25}]


def test_items_reach_the_sink_while_the_model_is_still_writing(server: OpenAIServer):
    server.script(Reply(content=THREE, hold_after_items=1, usage=(7, 11)))
    sink = RecordingSink()
    model = openai_model(server, stream=True)
    done: list[Ideas] = []
    call = threading.Thread(
        target=lambda: done.append(
            model.generate(Ideas, system="s", prompt="p", temperature=0, meter=sink).value
        )
    )
    call.start()
    assert server.held.wait(10)
    deadline = time.monotonic() + 10
    while not sink.items and time.monotonic() < deadline:
        time.sleep(0.01)  # the chunk is on its way: wait for it, the stream is held
    mid_stream, still_writing = list(sink.items), call.is_alive() and not done
    server.release.set()
    call.join(10)

    assert mid_stream == [{"title": "Idea number 0", "score": 0.5}]
    assert still_writing
    assert len(done[0].ideas) == 3
    assert len(sink.items) == 3
    assert sink.final == json.loads(THREE)["ideas"]
    # The usage comes with the stream's last chunk (stream_options.include_usage).
    assert sink.usage == [("gpt-test", 7, 11, 18)]
    assert server.requests[0]["stream"] is True
    assert server.requests[0]["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("mode", ["drop", "malformed", "stall"])
def test_a_stream_broken_mid_answer_is_a_transient_failure(server: OpenAIServer, mode: str):
    server.script(Reply(content=THREE, breaks=Break(2, mode, stall_seconds=3)))  # type: ignore[arg-type]
    sink = RecordingSink()
    model = openai_model(server, stream=True, timeout_seconds=0.5)

    with pytest.raises(TransientError):
        model.generate(Ideas, system="s", prompt="p", temperature=0, meter=sink)
    assert len(sink.items) == 2
    assert sink.final is None


def test_a_schema_retry_starts_a_new_stream_so_the_first_ones_items_are_withdrawn(
    server: OpenAIServer,
):
    bad = json.dumps(
        {"ideas": [{"title": "Idea number 0", "score": 0.5}, {"title": "x", "score": 2}]}
    )
    server.script(Reply(content=bad), Reply(content=THREE))
    sink = RecordingSink()

    openai_model(server, stream=True).generate(
        Ideas, system="s", prompt="p", temperature=0, meter=sink
    )

    assert sink.streams == 2
    assert sink.final == json.loads(THREE)["ideas"]


def test_with_streaming_off_the_request_is_whole_and_no_item_is_reported(server: OpenAIServer):
    sink = RecordingSink()

    openai_model(server).generate(Ideas, system="s", prompt="p", temperature=0, meter=sink)

    assert "stream" not in server.requests[0]
    assert (sink.streams, sink.items, sink.final) == (0, [], None)
