"""Reading a Server-Sent Events stream as a client does: events and comments, in order."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Event:
    name: str  # "comment" for a comment line (a keep-alive)
    data: str
    # The event's `id:` (what a client sends back as Last-Event-ID), if it had one.
    id: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)


def events(response: httpx.Response) -> Iterator[Event]:
    """Each event and comment as it arrives, until the server closes the stream."""
    return parse(response.iter_lines())


def parse(lines: Iterable[str]) -> Iterator[Event]:
    """Events and comments out of the stream's lines (without their line ends)."""
    name, event_id = "message", None
    data: list[str] = []
    for line in lines:
        if line.startswith(":"):
            yield Event("comment", line[1:].strip())
        elif line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data.append(line.split(":", 1)[1].removeprefix(" "))
        elif line.startswith("id:"):
            event_id = line.split(":", 1)[1].strip()
        elif line == "":
            if data:
                yield Event(name, "\n".join(data), event_id)
            name, event_id = "message", None
            data = []
