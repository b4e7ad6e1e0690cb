"""How the OpenAI double streams an answer: `stream: true` chunks at a set pace, or broken.

Chat Completions streams an answer as Server-Sent Events: `data:` lines each
holding a `chat.completion.chunk` whose `choices[0].delta.content` is the next
piece of the message, a last chunk with the `finish_reason`, a usage-only chunk
(`choices: []`) when the request asked `stream_options.include_usage`, then
`data: [DONE]`. The double cuts its content into pieces of a few characters
("tokens") and always ends a piece where an item closes (an element of the
answer's top-level array, or a top-level property), so it can say exactly when
it emitted each item (`Emitted`): the benchmark measures lag against that.

Pace: `tokens_per_second` spaces every piece evenly; `items_per_second`
spreads each item's pieces over 1/items_per_second seconds. A `Break` ends the
stream after a number of items: the connection dropped (no terminating
chunk), a malformed JSON chunk, or a stall longer than the client's timeout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Break", "Emitted", "Pace", "item_ends", "pieces"]

# Characters per streamed piece: about one token of English; unpaced, larger
# pieces (a multi-megabyte answer in 4-character chunks would take minutes).
TOKEN_CHARS = 4
UNPACED_CHARS = 2048


@dataclass(frozen=True)
class Pace:
    """How fast the double streams; both None: as fast as it can write."""

    tokens_per_second: float | None = None
    items_per_second: float | None = None

    def delays(self, content: str) -> Iterator[tuple[str, float, int | None]]:
        """Each piece, the pause before it, and the index of the item it closes (if any)."""
        ends = item_ends(content)
        paced = bool(self.tokens_per_second or self.items_per_second)
        chunks = list(pieces(content, ends, TOKEN_CHARS if paced else UNPACED_CHARS))
        per_item: dict[int, int] = {}
        item = 0
        for _, closes in chunks:
            per_item[item] = per_item.get(item, 0) + 1
            if closes is not None:
                item += 1
        item = 0
        for text, closes in chunks:
            if self.tokens_per_second:
                delay = 1.0 / self.tokens_per_second
            elif self.items_per_second:
                delay = 1.0 / self.items_per_second / per_item[item]
            else:
                delay = 0.0
            yield text, delay, closes
            if closes is not None:
                item += 1


@dataclass(frozen=True)
class Break:
    """End the stream badly once `after_items` items were sent."""

    after_items: int
    mode: Literal["drop", "malformed", "stall"] = "drop"
    # How long a stall lasts (longer than the client's timeout to fail it).
    stall_seconds: float = 5.0


@dataclass(frozen=True)
class Emitted:
    """When the double wrote the piece that closed an item (wall clock, `time.time()`)."""

    request: int
    index: int
    at: float


def item_ends(content: str) -> list[int]:
    """Offsets just past each item's last character.

    An item is an element of the root object's only property when that is an
    array (seeds, sessions, days), else each property of the root object (a
    concept's sections), as `shared.llm.streaming` reads them.
    """
    try:
        parsed = json.loads(content)
    except ValueError:
        return []
    if not isinstance(parsed, dict):
        return []
    array = len(parsed) == 1 and isinstance(next(iter(parsed.values())), list)
    # Depth at which an item closes: an array element at 2, a property's value at 1.
    close_depth = 2 if array else 1
    ends: list[int] = []
    depth = 0
    in_string = escaped = False
    value_started = False
    for offset, char in enumerate(content):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
            continue
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == close_depth and array:
                ends.append(offset + 1)
        elif not array and depth == 1 and char == ":":
            value_started = True
        elif not array and depth == 1 and char == "," and value_started:
            ends.append(offset)
            value_started = False
        if not array and depth == 0 and char == "}" and value_started:
            ends.append(offset)
            value_started = False
    return ends


def pieces(
    content: str, ends: list[int], size: int = TOKEN_CHARS
) -> Iterator[tuple[str, int | None]]:
    """The content in pieces of at most `size` characters, cut at every item end."""
    start = 0
    cuts = sorted(set(ends))
    index_of = {end: i for i, end in enumerate(cuts)}
    boundaries = [*cuts, len(content)]
    for boundary in boundaries:
        while start < boundary:
            stop = min(start + size, boundary)
            yield content[start:stop], index_of.get(stop) if stop == boundary else None
            start = stop


def chunk(
    completion_id: str,
    model: str,
    delta: dict[str, Any],
    finish_reason: str | None = None,
    usage: dict[str, int] | None = None,
    *,
    include_usage: bool = False,
) -> bytes:
    """One `data:` event holding a `chat.completion.chunk`."""
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    if include_usage:
        body["usage"] = None
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def usage_chunk(completion_id: str, model: str, usage: tuple[int, int]) -> bytes:
    body = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [],
        "usage": {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": sum(usage),
        },
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"
