"""How many event streams this api instance holds open, and whether their clients are still there.

A Server-Sent Events stream holds one of the instance's gunicorn threads for
as long as it is open. Unbounded, a few clients opening streams take every
thread, and `/healthz` and creates wait behind them (issue 15: 150 streams
from one tenant against 80 threads kept `/healthz` from answering for
seconds). So every stream route is admitted by a `StreamGate` first: at most
`Settings.stream_capacity` streams per instance (below its threads, so some
are always left for other requests) and `Settings.stream_capacity_per_tenant`
per tenant; beyond either, a 429 `rate_limited` with `Retry-After`.

A slot is given back when the response is closed, which the server does
whether the stream ended, failed or its client went away. A client that
went away is noticed by `ClientWatch` within about a second: the stream
looks at its socket between events instead of waiting for its next
keep-alive write to fail.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any

from shared.errors import TooManyRequests

log = logging.getLogger(__name__)

# What a refused client is told to wait. A slot frees whenever any stream of
# the instance ends (a run finishing, a client leaving, EVENTS_STREAM_SECONDS).
RETRY_AFTER_SECONDS = 5


class StreamTicket:
    """One admitted stream's slot; `release` gives it back (once, however often called)."""

    def __init__(self, gate: StreamGate, tenant: str) -> None:
        self._gate = gate
        self._tenant = tenant
        self._released = False

    def release(self) -> None:
        self._gate._release(self)

    @property
    def tenant(self) -> str:
        return self._tenant


class StreamGate:
    """Counts the streams this process has open, in all and per tenant, under one lock."""

    def __init__(self, capacity: int, per_tenant: int) -> None:
        self.capacity = capacity
        self.per_tenant = min(per_tenant, capacity)
        self._lock = threading.Lock()
        self._open = 0
        self._by_tenant: Counter[str] = Counter()

    def admit(self, tenant: str) -> StreamTicket:
        """A slot for one more stream of `tenant`, or `TooManyRequests`."""
        with self._lock:
            if self._by_tenant[tenant] >= self.per_tenant:
                refusal = (
                    f"this tenant already has {self.per_tenant} event streams open on this "
                    "api instance, the most it may; close one or retry later"
                )
            elif self._open >= self.capacity:
                refusal = (
                    f"this api instance serves its most event streams ({self.capacity}) now; "
                    "retry later"
                )
            else:
                self._open += 1
                self._by_tenant[tenant] += 1
                return StreamTicket(self, tenant)
        log.warning(
            "event stream refused",
            extra={"tenantId": tenant, "openStreams": self._open, "capacity": self.capacity},
        )
        raise TooManyRequests(refusal, retry_after_seconds=RETRY_AFTER_SECONDS)

    def open_streams(self, tenant: str | None = None) -> int:
        with self._lock:
            return self._open if tenant is None else self._by_tenant[tenant]

    def _release(self, ticket: StreamTicket) -> None:
        with self._lock:
            if ticket._released:
                return
            ticket._released = True
            self._open -= 1
            self._by_tenant[ticket.tenant] -= 1
            if self._by_tenant[ticket.tenant] <= 0:
                del self._by_tenant[ticket.tenant]


class ClientWatch:
    """Whether the client of a streamed response has gone away, without writing to it.

    Looks at the connection's socket (gunicorn puts it in the WSGI environ):
    a client that closed its end makes the socket readable with nothing to
    read (or reset). A client that sent more bytes (a pipelined request) is
    still there. Without a socket (the in-process test client), nothing is
    known and the stream relies on its keep-alive writes.
    """

    def __init__(self, environ: Mapping[str, Any]) -> None:
        sock = environ.get("gunicorn.socket")
        self._sock: socket.socket | None = sock if isinstance(sock, socket.socket) else None

    def gone(self) -> bool:
        if self._sock is None:
            return False
        try:
            poller = select.poll()
            poller.register(self._sock, select.POLLIN | select.POLLRDHUP)
            events = poller.poll(0)
        except (OSError, ValueError):
            return True  # closed under us
        if not events:
            return False
        mask = events[0][1]
        if mask & (select.POLLHUP | select.POLLERR | select.POLLNVAL | select.POLLRDHUP):
            return True
        try:
            peeked = self._sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True
        return peeked == b""
