"""Shared fixtures: the real emulators, a local OpenAI-compatible server, signing keys.

The emulators start once per test session on free ports (and fail loudly if
they are not installed); Firestore is emptied before each test that uses it,
and each test gets its own Pub/Sub topics (or, in a module whose tests share
one set of settings and so one api process, its own subscriptions), so tests
cannot see each other's messages.
"""

from __future__ import annotations

import os
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
from tests.helpers.api_processes import ApiProcesses, StackSettings
from tests.helpers.auth_support import SigningKey, rsa_key, write_jwks
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
def stack_settings(llm_server: OpenAIServer, jwks_file: Path) -> StackSettings:
    """The settings the stack's parts start with: new for each test, unless a module shares one."""
    return StackSettings.of(llm_server, jwks_file)


@pytest.fixture(scope="module")
def module_stack_settings(
    tmp_path_factory: pytest.TempPathFactory, signing_key: SigningKey
) -> Iterator[StackSettings]:
    """One set of settings for a module's tests, so that one api process can serve them all.

    A module opts in by overriding `stack_settings` with `module_stack_settings.for_next_test()`.
    """
    jwks = write_jwks(tmp_path_factory.mktemp("stack-settings") / "jwks.json", signing_key)
    with OpenAIServer(model="test-model") as llm:
        yield StackSettings.of(llm, jwks)


@pytest.fixture
def stack(
    emulators: Emulators,
    stack_settings: StackSettings,
    signing_key: SigningKey,
    stack_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Stack]:
    """The whole system wired through environment variables, as a deployment is."""
    reset_firestore(emulators.firestore_host, PROJECT)
    for name, value in {**stack_settings.env, **stack_env}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("OPENAI_API_KEY_SECRET", raising=False)
    with Stack.build(REPO_ROOT, signing_key, stack_settings.llm) as built:
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


@pytest.fixture(scope="module")
def api_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcesses]:
    processes = ApiProcesses(tmp_path_factory.mktemp("api"))
    try:
        yield processes
    finally:
        processes.close()


@pytest.fixture
def api_process(stack: Stack, api_processes: ApiProcesses) -> WorkerProcess:
    """The api served over real HTTP (functions-framework's gunicorn), with the stack's settings.

    For what the Flask test client cannot show: a streamed response as a
    client receives it, and a browser. Started for the stack's environment,
    so the tests of a module sharing its `stack_settings` share one process.
    """
    return api_processes.serving(os.environ)


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
