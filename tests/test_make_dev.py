"""`make dev` itself, as a developer runs it: healthy from its first second, and runs at once.

One `make dev` on free ports for the module, with the model double of the
test session and the dev keys `make dev` creates (as `make token` signs
with them): `make doctor` passes as soon as its banner is printed (the
first sweep tick goes out at start), runs created through its api execute
together (its push is `devtools.push`, not the emulator's one-at-a-time
push), and the console URL it prints opens the console signed in. The
tests only observe the stack, so they share it: a `make dev` costs two
JVMs, two function servers and the push deliverer to start.
"""

from __future__ import annotations

import re
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from devtools import REPO_ROOT
from devtools.devauth import ensure_dev_keys, mint_token
from devtools.openai_server import OpenAIServer, Reply
from tests.helpers.auth_support import bearer
from tests.helpers.infra_support import INFRA_DIR, parse_tf
from tests.helpers.local_pieces import BANNER, Piece, Ports, descendants, piece_env

# `make dev` starts the emulators itself.
pytestmark = pytest.mark.emulators

RUNS = 5
# The tenant of the runs the tests create; the console's signed-in dev user is
# of org-dev, whose list of runs stays empty.
TENANT = "org-make-dev"


@dataclass
class Dev:
    piece: Piece
    ports: Ports
    env: dict[str, str]
    llm: OpenAIServer
    token: str

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"http://127.0.0.1:{self.ports.api}",
            headers={"Authorization": bearer(self.token)},
            timeout=30,
        )

    def printed(self) -> str:
        return self.piece.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    logs = tmp_path_factory.mktemp("make-dev")
    ports = Ports()
    llm = OpenAIServer(model="test-model").start()
    # No AUTH_* settings: the api trusts the dev keys, as for a developer.
    env = piece_env(
        ports,
        GOOGLE_CLOUD_PROJECT="demo-genjobs-make-dev",
        OPENAI_API_KEY="test-" + secrets.token_hex(8),
        OPENAI_BASE_URL=llm.base_url,
        OPENAI_MODEL="test-model",
        TENANT_MAX_ACTIVE_RUNS=str(RUNS),
    )
    piece = Piece("dev", env, logs / "dev.log").start()
    try:
        piece.wait_printed(BANNER)
        token = mint_token(ensure_dev_keys(REPO_ROOT / ".dev"), TENANT, "dev")
        yield Dev(piece=piece, ports=ports, env=env, llm=llm, token=token)
    finally:
        piece.kill()  # the tests observed it: no graceful stop to wait out
        llm.stop()


def test_make_doctor_passes_as_soon_as_make_dev_is_ready(dev: Dev):
    doctor = subprocess.run(
        ["make", "--no-print-directory", "-s", "doctor"],
        env=dev.env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert "the first sweep tick did not reach the worker" not in dev.printed()
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert re.search(r"^OK    sweep ran recently: \d+ s ago$", doctor.stdout, re.M)
    assert "OK    push to the worker: devtools.push delivers to" in doctor.stdout


def test_runs_created_through_make_dev_execute_at_once(dev: Dev):
    # The model answers only when all RUNS calls are in flight together: a
    # stack that serialises runs (the emulator's own push) never gets there.
    everyone = threading.Barrier(RUNS, timeout=60)

    def together(request: dict[str, Any]) -> Reply:
        everyone.wait()
        return Reply()

    dev.llm.responder = together
    body = {"prompt": "A youth exchange about climate and street art", "seedCount": 5}
    with dev.api() as api:
        created = []
        for _ in range(RUNS):
            response = api.post("/v1/brainstorm-sessions", json=body)
            assert response.status_code == 202, response.text
            created.append(response.json()["runId"])
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            statuses = [api.get(f"/v1/runs/{run_id}").json()["status"] for run_id in created]
            if all(status not in ("QUEUED", "RUNNING") for status in statuses):
                break
            time.sleep(0.2)

    assert dev.llm.peak_in_flight == RUNS
    assert statuses == ["COMPLETED"] * RUNS


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_each_function_serves_as_many_requests_at_once_as_terraform_lets_an_instance(dev: Dev):
    # functions-framework's default (4 per core: 8 here) would cap a burst of
    # runs, which Cloud Run serves up to each function's concurrency at once.
    parsed = parse_tf((INFRA_DIR / "variables.tf").read_text(encoding="utf-8"))
    variables = {name: body for block in parsed["variable"] for name, body in block.items()}
    threads = {}
    for pid in descendants(dev.piece.pid):
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if b"devtools.function_server" in command:
            threads[command[command.index(b"devtools.function_server") + 1].decode()] = _environ(
                pid
            ).get("THREADS")

    assert threads == {
        "api": str(variables["api_concurrency"]["default"]),
        "worker": str(variables["worker_concurrency"]["default"]),
    }


def _printed_console_url(dev: Dev) -> str:
    found = re.search(r"^console: (\S+)$", dev.printed(), re.MULTILINE)
    assert found, f"make dev printed no console URL:\n{dev.printed()[-3000:]}"
    return found.group(1)


def test_make_dev_prints_a_console_url_that_opens_signed_in(dev: Dev, browser: Browser):
    url = _printed_console_url(dev)  # printed with the banner the fixture waited for
    page = browser.new_page()
    try:
        page.goto(url)

        expect(page.locator("#token-status")).to_contain_text("dev-user of org-dev")
        # The api accepted the token: the (empty) list of runs loaded.
        expect(page.locator("#runs-empty")).to_be_visible(timeout=15_000)
        expect(page.locator("#notice")).to_be_hidden()
        assert url.startswith(f"http://127.0.0.1:{dev.ports.api}/console#token=")
        assert "token=" not in page.url
    finally:
        page.close()
