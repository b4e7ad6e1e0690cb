"""Run listeners scale with the streams: one per run, shared, on channels of their own.

On the Firestore emulator: every stream of a run shares one listener (a
change reaches all of them; the listener closes with the last one), and
listeners spread over channels of at most `per_channel` listens, each with
a TCP connection of its own, apart from the client that reads and writes
(Google's front end carries at most 100 streams on one connection).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys

import pytest
from google.cloud import firestore

from devtools import REPO_ROOT
from devtools.emulators import Emulators
from shared.adapters.firestore_store import FirestoreRunStore
from shared.adapters.firestore_watch import (
    GRPC_IDLE_WAKEUP_SECONDS,
    FirestoreRunWatcher,
    ListenChannels,
    ListenClient,
)
from shared.engine import RunRecord, RunStatus
from tests.helpers.runs_support import seed_run
from tests.helpers.stack import PROJECT

pytestmark = pytest.mark.emulators


@pytest.fixture
def store(emptied_firestore: firestore.Client) -> FirestoreRunStore:
    return FirestoreRunStore(emptied_firestore)


@pytest.fixture
def channels() -> ListenChannels:
    return ListenChannels(lambda: ListenClient(project=PROJECT), per_channel=2)


@pytest.fixture
def watcher(channels: ListenChannels) -> FirestoreRunWatcher:
    return FirestoreRunWatcher(channels)


def _next(changes: queue.SimpleQueue[RunRecord | None]) -> RunRecord | None:
    return changes.get(timeout=15)


def test_streams_of_one_run_share_one_listener_and_each_hears_a_change(
    emptied_firestore: firestore.Client, store: FirestoreRunStore, watcher: FirestoreRunWatcher
):
    run = seed_run(store, status=RunStatus.QUEUED)
    first: queue.SimpleQueue[RunRecord | None] = queue.SimpleQueue()
    second: queue.SimpleQueue[RunRecord | None] = queue.SimpleQueue()
    one = watcher.watch(run.run_id, first.put)
    assert (record := _next(first)) is not None
    assert record.status is RunStatus.QUEUED
    two = watcher.watch(run.run_id, second.put)
    # The late subscriber is handed the run as it is now, as a listener of its own would be.
    assert (record := _next(second)) is not None
    assert record.status is RunStatus.QUEUED
    assert watcher.listeners.open_listeners() == 1

    emptied_firestore.collection("runs").document(run.run_id).update({"status": "CANCELLED"})
    for changes in (first, second):
        assert (record := _next(changes)) is not None
        assert record.status is RunStatus.CANCELLED
    one.close()
    two.close()


def test_the_shared_listener_closes_with_its_last_stream(
    store: FirestoreRunStore, watcher: FirestoreRunWatcher, channels: ListenChannels
):
    run = seed_run(store, status=RunStatus.QUEUED)
    subscriptions = [watcher.watch(run.run_id, lambda _: None) for _ in range(3)]
    subscriptions[0].close()
    subscriptions[1].close()
    assert watcher.listeners.open_listeners() == 1
    assert subscriptions[2].active
    subscriptions[2].close()
    assert watcher.listeners.open_listeners() == 0
    assert sum(channels.listens()) == 0


def test_listeners_spread_over_channels_each_with_a_connection_of_its_own(
    emulators: Emulators, store: FirestoreRunStore
):
    # Five runs, two listens a channel: three channels, three connections, in
    # a process that holds no other Firestore client.
    runs = [seed_run(store, status=RunStatus.QUEUED).run_id for _ in range(5)]
    port = emulators.firestore_host.rsplit(":", 1)[1]
    done = subprocess.run(
        [sys.executable, "-m", "tests.helpers.listen_connections", port, "2", *runs],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(done.stdout) == {"listens": [2, 2, 1], "connections": 3}


def test_a_listen_channel_makes_grpcs_idle_wakeups_rarer(channels: ListenChannels):
    # Each listener's thread waits in a gRPC read; at gRPC's 0.1 s slices 500
    # of them cost 14% of a CPU doing nothing (bench.streams). Fails loudly if
    # a grpcio upgrade renames what the adapter tunes.
    import grpc._common

    channels.take()

    assert grpc._common.MAXIMUM_WAIT_TIMEOUT == GRPC_IDLE_WAKEUP_SECONDS
