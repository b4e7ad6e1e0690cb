"""Firestore implementation of `RunWatcher`: one snapshot listener per watched run, shared.

A Firestore listener is one server-streamed Listen call plus two threads in
this process (the library's consumer thread and gRPC's request thread).
Two things stop an api instance from holding hundreds of event streams if
every stream opens its own listener on the client's one gRPC channel:

- **100 streams per connection.** Google's front end lets one HTTP/2
  connection carry at most 100 concurrent streams; gRPC queues the rest on
  that connection instead of opening another. Listener 101 would never hear
  anything, and every ordinary read or write of the instance (the same
  channel) would queue behind the listeners: the Java and .NET clients pool
  channels for this reason (googleapis/google-cloud-java#3514,
  google-cloud-dotnet#12318); the Python client does not. The emulator has
  no such limit, so nothing local shows it.
- **Many streams, one run.** A browser tab, the console and a reconnecting
  client watching the same run each paid a listener, its threads and a
  document read per change.

So `ListenChannels` gives listeners gRPC channels of their own (apart from
the client that reads and writes), at most `LISTENS_PER_CHANNEL` on each,
each channel with its own connection; and `DocumentListeners` keeps one
listener per document, fanned out to every subscriber, and closes it when
the last one leaves. A subscriber that joins a live listener is handed the
latest snapshot at once, as a fresh listener would hand it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import grpc
from google.cloud import firestore
from google.cloud.firestore_v1 import base_client

from shared.adapters.firestore_store import RUNS
from shared.engine import OnChange, RunRecord

log = logging.getLogger(__name__)

# Listens one gRPC channel carries: below the 100 concurrent streams Google's
# front end allows on one HTTP/2 connection.
LISTENS_PER_CHANNEL = 90

# gRPC shares one connection between channels of equal target and arguments
# (its global subchannel pool); this gives each listen channel its own.
_OWN_CONNECTION = ("grpc.use_local_subchannel_pool", 1)

# How often a thread blocked in a gRPC read wakes up without cause. gRPC
# waits in 0.1 s slices (`grpc._common.MAXIMUM_WAIT_TIMEOUT`) so that a main
# thread blocked in a call still sees Ctrl-C; a listener's consumer thread
# sits in one such read for its whole life, so 500 listeners woke 5,000
# times a second: 14% of a CPU with nothing to do, 3% at 1 s
# (`python -m bench.streams` and docs/architecture.md). An event still wakes
# the reader at once; only a signal to a main thread blocked in a call
# waits up to this long. Set once a process opens a listen channel.
GRPC_IDLE_WAKEUP_SECONDS = 1.0

T = TypeVar("T")
_NOTHING_YET: Any = object()


def _fewer_idle_wakeups() -> None:
    import grpc._common  # the pinned grpcio's; tests/test_shared_listeners.py checks it

    if grpc._common.MAXIMUM_WAIT_TIMEOUT < GRPC_IDLE_WAKEUP_SECONDS:
        grpc._common.MAXIMUM_WAIT_TIMEOUT = GRPC_IDLE_WAKEUP_SECONDS


class ListenClient(firestore.Client):
    """A Firestore client whose gRPC channel has a TCP connection of its own.

    Built like `firestore.Client` builds its channel (the emulator's insecure
    one, or the secure one with the library's keep-alive options), plus
    `_OWN_CONNECTION`; google-cloud-firestore offers no public way to pass a
    channel argument, so this overrides its channel factory.
    """

    def _firestore_api_helper(self, transport: Any, client_class: Any, client_module: Any) -> Any:
        if self._firestore_api_internal is None:
            if self._emulator_host is not None:
                # The library's emulator options ("owner" passes the security rules).
                options = [
                    ("Authorization", "Bearer owner"),
                    *base_client._GRPC_MSG_SIZE_OPTIONS,
                    _OWN_CONNECTION,
                ]
                channel = grpc.insecure_channel(self._emulator_host, options=options)
            else:
                channel = transport.create_channel(
                    self._target,
                    credentials=self._credentials,
                    options=[*base_client._DEFAULT_CHANNEL_OPTIONS, _OWN_CONNECTION],
                )
            self._transport = transport(host=self._target, channel=channel)
            self._firestore_api_internal = client_class(
                transport=self._transport, client_options=self._client_options
            )
            client_module._client_info = self._client_info
        return self._firestore_api_internal


class ListenChannels:
    """Clients for listeners only, each carrying at most `per_channel` listens at once."""

    def __init__(
        self, make_client: Callable[[], firestore.Client], per_channel: int = LISTENS_PER_CHANNEL
    ) -> None:
        if per_channel < 1:
            raise ValueError("per_channel must be at least 1")
        self._make_client = make_client
        self.per_channel = per_channel
        self._lock = threading.Lock()
        self._clients: list[firestore.Client] = []
        self._listens: list[int] = []

    def take(self) -> tuple[int, firestore.Client]:
        """A channel with room for one more listen: (its index, its client)."""
        with self._lock:
            for index, count in enumerate(self._listens):
                if count < self.per_channel:
                    self._listens[index] += 1
                    return index, self._clients[index]
            _fewer_idle_wakeups()
            self._clients.append(self._make_client())
            self._listens.append(1)
            return len(self._clients) - 1, self._clients[-1]

    def give_back(self, index: int) -> None:
        with self._lock:
            self._listens[index] -= 1

    def listens(self) -> list[int]:
        """Open listens per channel (for benchmarks and tests)."""
        with self._lock:
            return list(self._listens)


class _Subscription:
    def __init__(self, listener: _SharedListener[Any], key: int) -> None:
        self._listener = listener
        self._key = key
        self._closed = False

    @property
    def active(self) -> bool:
        return not self._closed and self._listener.active

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._listener.leave(self._key)


class _SharedListener(Generic[T]):
    """One document's listener and the subscribers it fans out to."""

    def __init__(self, owner: DocumentListeners[T], path: str) -> None:
        self._owner = owner
        self.path = path
        self._lock = threading.Lock()
        self._subscribers: dict[int, Callable[[T | None], None]] = {}
        self._next_key = 0
        self._latest: Any = _NOTHING_YET
        self._watch: Any = None
        self._channel: int | None = None
        self._closed = False

    @property
    def active(self) -> bool:
        watch = self._watch
        return not self._closed and (watch is None or bool(watch.is_active))

    def join(self, on_change: Callable[[T | None], None]) -> _Subscription | None:
        """Subscribe; None if this listener closed meanwhile (the caller starts another)."""
        with self._lock:
            if self._closed:
                return None
            key = self._next_key
            self._next_key += 1
            self._subscribers[key] = on_change
            if self._latest is not _NOTHING_YET:
                on_change(self._latest)  # under the lock: never after a newer snapshot
        return _Subscription(self, key)

    def start(self) -> None:
        """Open the Firestore listener on a channel with room (its first subscriber calls it)."""
        channel, client = self._owner.channels.take()
        try:
            watch: Any = client.document(self.path).on_snapshot(self._on_snapshot)
        except Exception:
            self._owner.channels.give_back(channel)
            with self._lock:
                self._closed = True
            self._owner.forget(self)
            raise
        with self._lock:
            left = self._closed  # every subscriber left while it opened
            if not left:
                self._watch, self._channel = watch, channel
        if left:
            watch.unsubscribe()
            self._owner.channels.give_back(channel)

    def _on_snapshot(self, docs: list[Any], changes: Any, read_time: Any) -> None:
        snapshot = docs[0] if docs else None
        data = snapshot.to_dict() if snapshot is not None and snapshot.exists else None
        value = None if data is None else self._owner.convert(data)
        with self._lock:
            self._latest = value
            for on_change in list(self._subscribers.values()):
                on_change(value)

    def leave(self, key: int) -> None:
        with self._lock:
            self._subscribers.pop(key, None)
            if self._subscribers or self._closed:
                return
            self._closed = True
        self._owner.forget(self)
        if self._watch is not None:
            self._watch.unsubscribe()
        if self._channel is not None:
            self._owner.channels.give_back(self._channel)


class DocumentListeners(Generic[T]):
    """One listener per document path, shared by its subscribers; `convert` turns data into T."""

    def __init__(self, channels: ListenChannels, convert: Callable[[dict[str, Any]], T]) -> None:
        self.channels = channels
        self.convert = convert
        self._lock = threading.Lock()
        self._listeners: dict[str, _SharedListener[T]] = {}

    def watch(self, path: str, on_change: Callable[[T | None], None]) -> _Subscription:
        """Call `on_change` with the document now, then on every change (None: it is gone).

        `on_change` runs on the listener's thread under its lock: it must
        return quickly (a queue's put).
        """
        while True:
            with self._lock:
                listener = self._listeners.get(path)
                fresh = listener is None or not listener.active
                if fresh:
                    listener = _SharedListener(self, path)
                    self._listeners[path] = listener
            assert listener is not None
            subscription = listener.join(on_change)
            if subscription is None:
                continue  # its last subscriber left just now: start another
            if fresh:
                try:
                    listener.start()
                except Exception:
                    subscription.close()
                    raise
            return subscription

    def forget(self, listener: _SharedListener[T]) -> None:
        with self._lock:
            if self._listeners.get(listener.path) is listener:
                del self._listeners[listener.path]

    def open_listeners(self) -> int:
        with self._lock:
            return len(self._listeners)


def _run_record(data: dict[str, Any]) -> RunRecord:
    return RunRecord.model_validate(data)


class FirestoreRunWatcher:
    """`RunWatcher` on the run documents: one shared listener per watched run."""

    def __init__(self, channels: ListenChannels) -> None:
        self.listeners: DocumentListeners[RunRecord] = DocumentListeners(channels, _run_record)

    def watch(self, run_id: str, on_change: OnChange) -> _Subscription:
        return self.listeners.watch(f"{RUNS}/{run_id}", on_change)
