"""Reading a Server-Sent Events stream as a client does: events and comments, in order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Event:
    name: str  # "comment" for a comment line (a keep-alive)
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


def events(response: httpx.Response) -> Iterator[Event]:
    """Each event and comment as it arrives, until the server closes the stream."""
    name, data = "message", []
    for line in response.iter_lines():
        if line.startswith(":"):
            yield Event("comment", line[1:].strip())
        elif line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data.append(line.split(":", 1)[1].removeprefix(" "))
        elif line == "":
            if data:
                yield Event(name, "\n".join(data))
            name, data = "message", []
