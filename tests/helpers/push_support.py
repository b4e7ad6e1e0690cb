"""Pub/Sub push at full parallelism: every published run event posted at once to a worker process.

The emulator's own push subscription sends about two requests at a time on
a small machine, which cannot show what many instances (or one instance
serving many requests) do. `Pusher` pulls the test subscription and posts
each message to the worker on its own thread, as Cloud Run's push would,
and posts a message again a moment after a 5xx (Pub/Sub's redelivery).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from devtools.provision import push_envelope
from devtools.worker_process import WorkerProcess
from tests.helpers.stack import Stack


class Pusher:
    def __init__(self, stack: Stack, worker: WorkerProcess, parallel: int = 64) -> None:
        self.stack = stack
        self.worker = worker
        self.pool = ThreadPoolExecutor(parallel)
        self.statuses: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Pusher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            for message in self.stack.pull(max_messages=100, wait=0.2):
                self.pool.submit(self._push, message.data, dict(message.attributes))

    def _push(self, data: bytes, attributes: dict[str, str]) -> None:
        settings = self.stack.services.settings
        envelope = push_envelope(settings.project, data, attributes)
        url = f"{self.worker.url}/projects/{settings.project}/topics/{settings.events_topic}"
        status = httpx.post(url, json=envelope, timeout=120).status_code
        self.statuses.append(status)
        if status >= 500 and not self._stop.is_set():
            time.sleep(1)
            self.pool.submit(self._push, data, attributes)
