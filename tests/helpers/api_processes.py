"""The settings a stack's parts start with, and api processes that share them.

An api served as a process (functions-framework's gunicorn) reads its
settings once, at start: topic names, the JWKS file, the model's URL and
key. A test's `stack` (the in-process api and worker, the test's Pub/Sub
subscriptions) must use the same settings, so before, each test started an
api process of its own (about 2 s of CPU each). A `StackSettings` is those
settings; a module whose tests only need "an api answering over HTTP with
this stack's settings" uses one `StackSettings` for all its tests, and
`ApiProcesses` then serves them all with one process.

Isolation stays per test: Firestore is emptied before each test, each test
gets its own pull subscriptions (created when its stack is built, deleted
after it, so no message of another test reaches it), the model double is
reset, and run ids are unique, so what a test reads of the shared process's
log (filtered by run id) is its own. A test whose settings differ (a
`stack_env`, an environment variable set for it) gets a process started
with exactly those: processes are keyed by the whole environment.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from devtools import REPO_ROOT
from devtools.openai_server import OpenAIServer
from devtools.worker_process import WorkerProcess
from tests.helpers.auth_support import AUDIENCE, ISSUER
from tests.helpers.stack import PROJECT

# Set by pytest to the running test's id: the one variable that differs between
# tests without being a setting.
_PER_TEST = frozenset({"PYTEST_CURRENT_TEST"})


@dataclass(frozen=True)
class StackSettings:
    """The settings a stack's parts start with, and the model double they call."""

    llm: OpenAIServer
    env: dict[str, str]

    @classmethod
    def of(cls, llm: OpenAIServer, jwks_file: Path) -> StackSettings:
        suffix = uuid.uuid4().hex[:8]
        return cls(
            llm,
            {
                "GOOGLE_CLOUD_PROJECT": PROJECT,
                "EVENTS_TOPIC": f"events-{suffix}",
                "DEAD_LETTER_TOPIC": f"events-dlq-{suffix}",
                "RESULTS_TOPIC": f"results-{suffix}",
                "TRIGGERS_TOPIC": f"triggers-{suffix}",
                "AUTH_JWKS_FILE": str(jwks_file),
                "AUTH_ISSUER": ISSUER,
                "AUTH_AUDIENCE": AUDIENCE,
                # Generated at test time: nothing key-like is stored in the repository.
                "OPENAI_API_KEY": "test-" + secrets.token_hex(8),
                "OPENAI_BASE_URL": llm.base_url,
                "OPENAI_MODEL": "test-model",
                "OPENAI_TIMEOUT_SECONDS": "10",
                "LEASE_SECONDS": "30",
                "STEP_MAX_ATTEMPTS": "3",
                "LOG_LEVEL": "INFO",
            },
        )

    def for_next_test(self) -> StackSettings:
        """The same settings, their model double as new (for a module's next test)."""
        self.llm.reset()
        return self


class ApiProcesses:
    """Api processes by environment: a test gets one started with exactly its settings.

    At most `keep` stay running (the least recently used is killed first),
    so a module whose tests each have their own settings does not pile up
    processes; `close` kills the rest.
    """

    def __init__(self, log_dir: Path, keep: int = 2) -> None:
        self.log_dir = log_dir
        self.keep = keep
        self._running: OrderedDict[tuple[tuple[str, str], ...], WorkerProcess] = OrderedDict()

    def serving(self, environ: Mapping[str, str] = os.environ) -> WorkerProcess:
        """A running api whose environment is `environ` (started if none is, or it died)."""
        key = tuple(sorted((k, v) for k, v in environ.items() if k not in _PER_TEST))
        api = self._running.pop(key, None)
        if api is None or api.process is None or api.process.poll() is not None:
            env = {**dict(key), "PYTHONPATH": str(REPO_ROOT)}
            api = WorkerProcess(self.log_dir, env=env, name="api", target="api").start()
        self._running[key] = api
        while len(self._running) > self.keep:
            _, oldest = self._running.popitem(last=False)
            oldest.kill()
        return api

    def close(self) -> None:
        # SIGKILL: a graceful stop waits out open streams (1-2 s), and nothing
        # of the processes is checked after their tests.
        while self._running:
            _, api = self._running.popitem()
            api.kill()
