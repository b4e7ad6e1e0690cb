"""`make emulators`, `make worker` and `make api`, started one by one as DEVELOPING.md says, work.

`make emulators` must leave the local cloud as Terraform leaves Cloud (topics,
push subscriptions to the worker, dead-lettering) and run Cloud Scheduler's
sweep tick; otherwise a run stays IN_PROGRESS silently, the incident this
project exists to end.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from devtools import REPO_ROOT
from devtools.openai_server import OpenAIServer
from tests.helpers.auth_support import (
    AUDIENCE,
    ISSUER,
    SigningKey,
    bearer,
    claims,
    mint,
    write_jwks,
)
from tests.helpers.local_pieces import Piece, Ports, piece_env

# The pieces are `make emulators`, `make worker`, `make api`: Java included.
pytestmark = pytest.mark.emulators


@dataclass
class Pieces:
    ports: Ports
    token: str
    # An api whose publishes all fail (its topic does not exist): runs it creates
    # stay QUEUED until the sweep tick re-publishes them on the real topic.
    lossy_api_port: int
    env: dict[str, str]

    def api(self, port: int | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=f"http://127.0.0.1:{port or self.ports.api}",
            headers={"Authorization": bearer(self.token)},
            timeout=30,
        )


@pytest.fixture(scope="module")
def pieces(tmp_path_factory: pytest.TempPathFactory, signing_key: SigningKey) -> Iterator[Pieces]:
    logs = tmp_path_factory.mktemp("pieces")
    ports = Ports()
    lossy = Ports(firestore=ports.firestore, pubsub=ports.pubsub, worker=ports.worker)
    llm = OpenAIServer(model="test-model").start()
    env = piece_env(
        ports,
        GOOGLE_CLOUD_PROJECT="demo-genjobs-pieces",
        SWEEP_SECONDS="1",
        AUTH_JWKS_FILE=str(write_jwks(logs / "jwks.json", signing_key)),
        AUTH_ISSUER=ISSUER,
        AUTH_AUDIENCE=AUDIENCE,
        OPENAI_API_KEY="test-" + secrets.token_hex(8),
        OPENAI_BASE_URL=llm.base_url,
        OPENAI_MODEL="test-model",
    )
    started = []
    try:
        emulators = Piece("emulators", env, logs / "emulators.log").start()
        started.append(emulators)
        emulators.wait_listening([ports.firestore, ports.pubsub])
        worker = Piece("worker", env, logs / "worker.log").start()
        api = Piece("api", env, logs / "api.log").start()
        lossy_api = Piece(
            "api",
            {**env, **lossy.env(), "EVENTS_TOPIC": "no-such-topic", "REDRIVE_AFTER_SECONDS": "1"},
            logs / "lossy.log",
        ).start()
        started += [worker, api, lossy_api]
        worker.wait_listening([ports.worker])
        api.wait_listening([ports.api])
        lossy_api.wait_listening([lossy.api])
        token = mint(signing_key, claims(sub="dev", org_id="org-pieces"))
        yield Pieces(ports=ports, token=token, lossy_api_port=lossy.api, env=env)
    finally:
        for piece in reversed(started):
            piece.kill()  # the tests observed them: no graceful stop to wait out
        llm.stop()


def _completed(client: httpx.Client, session_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        session: dict[str, Any] = client.get(f"/v1/brainstorm-sessions/{session_id}").json()
        if session["status"] != "IN_PROGRESS" or time.monotonic() > deadline:
            return session
        time.sleep(0.3)


def _create(client: httpx.Client) -> dict[str, Any]:
    response = client.post(
        "/v1/brainstorm-sessions",
        json={"prompt": "A youth exchange about climate and street art", "seedCount": 5},
    )
    assert response.status_code == 202, response.text
    created: dict[str, Any] = response.json()
    return created


def test_a_session_completes_through_the_separately_started_pieces(pieces: Pieces):
    with pieces.api() as client:
        created = _create(client)
        session = _completed(client, created["sessionId"], timeout=60)
        run = client.get(f"/v1/runs/{created['runId']}").json()

    assert session["status"] == "COMPLETED", session
    assert len(session["seeds"]) == 5
    assert run["status"] == "COMPLETED"
    assert run["deliveries"] == 1


def test_the_sweep_tick_of_make_emulators_executes_a_run_whose_publish_was_lost(
    pieces: Pieces,
):
    with pieces.api(pieces.lossy_api_port) as lossy:
        created = _create(lossy)
    with pieces.api() as client:
        session = _completed(client, created["sessionId"], timeout=60)

    assert session["status"] == "COMPLETED", session
    assert len(session["seeds"]) == 5


def test_make_doctor_passes_against_the_separately_started_pieces(pieces: Pieces):
    # Runs last: by now the lossy api's run has been completed by the sweep.
    doctor = subprocess.run(
        ["make", "--no-print-directory", "-s", "doctor"],
        env=pieces.env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "OK    topic generation-results: exists" in doctor.stdout
    assert "OK    sweep ran recently" in doctor.stdout
    assert pieces.env["OPENAI_API_KEY"] not in doctor.stdout + doctor.stderr
