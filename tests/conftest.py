"""Shared fixtures: the real emulators, a local OpenAI-compatible server, signing keys.

The emulators start once per test session on free ports (and fail loudly if
they are not installed); Firestore is emptied before each test that uses it,
and each test gets its own Pub/Sub topics, so tests cannot see each other's
messages.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.cloud import firestore
from playwright.sync_api import Browser, sync_playwright

from devtools import REPO_ROOT
from devtools.emulators import QUICK_JVM, Emulators, reset_firestore
from devtools.openai_server import OpenAIServer
from devtools.worker_process import WorkerProcess
from shared.adapters.firestore_store import client_for
from tests.helpers.auth_support import AUDIENCE, ISSUER, SigningKey, rsa_key, write_jwks
from tests.helpers.browser import CHROMIUM, CHROMIUM_FLAGS
from tests.helpers.engine_support import Harness, Recorder
from tests.helpers.stack import PROJECT, Stack

# `make check`'s half of the suite (--no-java) and the `emulators` mark; how
# `make test` spreads the tests over its xdist workers.
pytest_plugins = ("tests.helpers.partition", "tests.helpers.distribution")


@pytest.fixture(scope="session")
def emulators() -> Iterator[Emulators]:
    with Emulators(jvm_options=QUICK_JVM) as running:
        os.environ.update(running.env())
        os.environ["GOOGLE_CLOUD_PROJECT"] = PROJECT
        yield running


@pytest.fixture
def llm_server() -> Iterator[OpenAIServer]:
    with OpenAIServer(model="test-model") as server:
        yield server


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return rsa_key("test-key")


@pytest.fixture
def jwks_file(tmp_path: Path, signing_key: SigningKey) -> Path:
    path = tmp_path / "jwks.json"
    write_jwks(path, signing_key)
    return path


@pytest.fixture
def stack_env() -> dict[str, str]:
    """Per-module overrides of the stack's environment (e.g. a short lease)."""
    return {}


@pytest.fixture
def stack(
    emulators: Emulators,
    llm_server: OpenAIServer,
    jwks_file: Path,
    signing_key: SigningKey,
    stack_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Stack]:
    """The whole system wired through environment variables, as a deployment is."""
    reset_firestore(emulators.firestore_host, PROJECT)
    suffix = uuid.uuid4().hex[:8]
    env = {
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "EVENTS_TOPIC": f"events-{suffix}",
        "DEAD_LETTER_TOPIC": f"events-dlq-{suffix}",
        "RESULTS_TOPIC": f"results-{suffix}",
        "TRIGGERS_TOPIC": f"triggers-{suffix}",
        "AUTH_JWKS_FILE": str(jwks_file),
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": AUDIENCE,
        # Generated per test: nothing key-like is stored in the repository.
        "OPENAI_API_KEY": "test-" + secrets.token_hex(8),
        "OPENAI_BASE_URL": llm_server.base_url,
        "OPENAI_MODEL": "test-model",
        "OPENAI_TIMEOUT_SECONDS": "10",
        "LEASE_SECONDS": "30",
        "STEP_MAX_ATTEMPTS": "3",
        "LOG_LEVEL": "INFO",
        **stack_env,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("OPENAI_API_KEY_SECRET", raising=False)
    with Stack.build(REPO_ROOT, signing_key, llm_server) as built:
        yield built


@pytest.fixture
def emptied_firestore(emulators: Emulators) -> firestore.Client:
    """A client of the Firestore emulator, emptied first (for contracts run on memory and on it)."""
    reset_firestore(emulators.firestore_host, PROJECT)
    return client_for(PROJECT)


@pytest.fixture(scope="module")
def functions(
    emulators: Emulators, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, WorkerProcess]]:
    """The api and the worker as processes on free ports (they only need to answer)."""
    logs = tmp_path_factory.mktemp("doctor-functions")
    started: dict[str, WorkerProcess] = {}
    try:
        for target in ("worker", "api"):
            process = WorkerProcess(logs, name="doctor", target=target)
            started[target] = process
            process.start(timeout=60.0)
        yield started
    finally:
        for process in started.values():
            process.kill()  # nothing is checked after the tests: no graceful stop to wait for


@pytest.fixture
def api_process(stack: Stack, tmp_path: Path) -> Iterator[WorkerProcess]:
    """The api served over real HTTP (functions-framework's gunicorn), with the stack's settings.

    For what the Flask test client cannot show: a streamed response as a
    client receives it, and a browser.
    """
    api = WorkerProcess(tmp_path, name="api", target="api").start()
    try:
        yield api
    finally:
        # SIGKILL: a graceful stop waits out open streams (1-2 s a test), and
        # nothing of the process is checked after the test.
        api.kill()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium and chromium-driver "
            "(apt-get install -y chromium chromium-driver; .ci/run does it)"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def engine() -> Harness:
    """The engine on the in-memory store with a fake clock: no Java, no sleeping."""
    return Harness()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
