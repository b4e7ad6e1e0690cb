"""`make doctor` finds each fault injected into a local stack, with its fix, and prints no secret.

The stack is the real one: emulators with the topics and subscriptions
`make emulators` provisions, delivered to the worker by the push deliverer it
runs (`devtools.push`), the worker and api as processes, the sweep's
heartbeat written by a real sweep tick, the OpenAI double over HTTP.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient
from google.pubsub_v1.types import PushConfig

from devtools.doctor import check_local, local_clients, local_target
from devtools.doctor_checks import Result, report, run_checks
from devtools.emulators import free_port
from devtools.openai_server import OpenAIServer
from devtools.provision import parked_topic, provision, subscription_id
from devtools.push import LocalPush, read_status, status_path
from devtools.worker_process import WorkerProcess
from shared.adapters.firestore_heartbeat import SWEEP_HEARTBEAT
from tests.helpers.llm_support import make_test_key
from tests.helpers.stack import Stack


@pytest.fixture
def pusher(stack: Stack, functions: dict[str, WorkerProcess]) -> Iterator[LocalPush]:
    """`make emulators`' push deliverer on the stack's subscriptions, writing its status file."""
    settings = stack.services.settings
    results = f"{settings.events_topic}-results"
    routes = provision(
        settings.project,
        settings.events_topic,
        settings.dead_letter_topic,
        results_topic=results,
        triggers_topic=settings.triggers_topic,
    )
    status = status_path(os.environ["PUBSUB_EMULATOR_HOST"])
    with LocalPush(
        settings.project, routes, functions["worker"].url, status_file=status
    ) as deliverer:
        while not status.exists():
            time.sleep(0.02)
        yield deliverer


@pytest.fixture
def env(stack: Stack, functions: dict[str, WorkerProcess], pusher: LocalPush) -> dict[str, str]:
    """The environment of a healthy `make dev`: provisioned, pushed, swept once, on these ports."""
    settings = stack.services.settings
    assert stack.sweep().status == 200  # Cloud Scheduler's tick: leaves the heartbeat
    return {
        **os.environ,
        "RESULTS_TOPIC": f"{settings.events_topic}-results",
        "WORKER_URL": functions["worker"].url,
        "API_PORT": str(functions["api"].port),
        "SWEEP_SECONDS": "15",
    }


def doctor(
    env: dict[str, str], later: timedelta = timedelta()
) -> tuple[int, str, dict[str, Result]]:
    target = local_target(env)
    clients = local_clients(target, "(default)")
    clients.now = lambda: datetime.now(UTC) + later
    results = run_checks(target, clients)
    out = io.StringIO()
    code = report(results, out)
    return code, out.getvalue(), {r.check: r for r in results}


def _dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def test_a_healthy_local_stack_passes_every_check(env: dict[str, str], stack: Stack):
    stack.llm.accepted_keys = {env["OPENAI_API_KEY"]}

    code, out, results = doctor(env)

    assert code == 0, out
    assert {r.status for r in results.values()} <= {"OK", "SKIP"}
    assert results["LLM provider"].status == "OK"
    skipped = {name for name, r in results.items() if r.status == "SKIP"}
    # No IAM, no metrics on the emulator.
    assert skipped == {"Pub/Sub may dead-letter", "who may publish triggers", "dead-letter backlog"}
    assert results[f"topic {env['RESULTS_TOPIC']}"].status == "OK"
    assert env["OPENAI_API_KEY"] not in out


@pytest.mark.parametrize("topic", ["events", "triggers"])
def test_a_deleted_subscription_fails_with_the_command_that_provisions_it(
    env: dict[str, str], stack: Stack, topic: str
):
    settings = stack.services.settings
    name = subscription_id(getattr(settings, f"{topic}_topic"))
    SubscriberClient().delete_subscription(
        subscription=SubscriberClient.subscription_path(settings.project, name)
    )

    code, out, results = doctor(env)

    assert code == 1
    failed = results[f"subscription {name}"]
    assert failed.status == "FAIL"
    assert failed.detail == "does not exist"
    assert "make emulators" in failed.fix
    assert f"FAIL  subscription {name}: does not exist\n      fix: " in out


def test_a_dead_letter_subscription_that_parks_nothing_fails(env: dict[str, str], stack: Stack):
    """Without a dead-letter policy of its own, a dead letter the worker cannot fail comes back."""
    settings = stack.services.settings
    name = subscription_id(settings.dead_letter_topic)
    path = SubscriberClient.subscription_path(settings.project, name)
    subscriber = SubscriberClient()
    subscriber.delete_subscription(subscription=path)
    subscriber.create_subscription(
        name=path, topic=PublisherClient.topic_path(settings.project, settings.dead_letter_topic)
    )

    code, _, results = doctor(env)

    assert code == 1
    failed = results[f"subscription {name}"]
    assert failed.status == "FAIL"
    parked = parked_topic(settings.dead_letter_topic)
    assert f"dead-letters to (nothing), not {parked}" in failed.detail


def test_a_subscription_the_emulator_pushes_itself_fails(env: dict[str, str], stack: Stack):
    settings = stack.services.settings
    name = subscription_id(settings.dead_letter_topic)
    endpoint = (
        f"{env['WORKER_URL']}/projects/{settings.project}/topics/{settings.dead_letter_topic}"
    )
    SubscriberClient().modify_push_config(
        subscription=SubscriberClient.subscription_path(settings.project, name),
        push_config=PushConfig(push_endpoint=endpoint),
    )

    code, _, results = doctor(env)

    assert code == 1
    assert results[f"subscription {name}"].status == "FAIL"
    assert f"the emulator pushes it to {endpoint}" in results[f"subscription {name}"].detail


def test_a_stack_without_its_push_deliverer_fails(env: dict[str, str], pusher: LocalPush):
    pusher.stop()

    code, _, results = doctor(env)

    assert code == 1
    assert results["push to the worker"].status == "FAIL"
    assert results["push to the worker"].detail.startswith("nothing delivers the subscriptions")
    assert "make emulators" in results["push to the worker"].fix


def test_a_push_deliverer_delivering_elsewhere_fails(env: dict[str, str], pusher: LocalPush):
    elsewhere = _dead_url()
    pusher.retarget(elsewhere)
    assert pusher.status_file is not None
    while (read_status(pusher.status_file) or {}).get("workerUrl") != elsewhere:
        time.sleep(0.05)  # it rewrites its status every second

    code, _, results = doctor(env)

    assert code == 1
    assert f"it pushes to {elsewhere}, not {env['WORKER_URL']}" in (
        results["push to the worker"].detail
    )


def test_a_healthy_push_deliverer_passes_with_what_it_delivered(env: dict[str, str]):
    code, out, results = doctor(env)

    assert code == 0, out
    assert results["push to the worker"].status == "OK"
    assert f"devtools.push delivers to {env['WORKER_URL']}" in results["push to the worker"].detail


def test_a_sweep_that_stopped_ticking_fails(env: dict[str, str]):
    code, _, results = doctor(env, later=timedelta(minutes=5))

    assert code == 1
    assert results["sweep ran recently"].status == "FAIL"
    assert results["sweep ran recently"].detail.startswith("last ran 30")
    assert "SWEEP_SECONDS" in results["sweep ran recently"].fix


def test_a_sweep_that_never_ran_fails(env: dict[str, str], stack: Stack):
    stack.services.db.document(SWEEP_HEARTBEAT).delete()

    code, _, results = doctor(env)

    assert code == 1
    assert results["sweep ran recently"].detail == "the sweep has never run"


def test_a_key_the_provider_refuses_fails_and_is_never_printed(env: dict[str, str], stack: Stack):
    stack.llm.accepted_keys = {"test-another-key"}

    code, out, results = doctor(env)

    assert code == 1
    assert results["LLM provider"].status == "FAIL"
    assert "refuses the key (HTTP 401)" in results["LLM provider"].detail
    assert "OPENAI_API_KEY" in results["LLM provider"].fix
    assert env["OPENAI_API_KEY"] not in out


def test_an_openai_url_that_does_not_answer_fails(env: dict[str, str]):
    code, _, results = doctor({**env, "OPENAI_BASE_URL": f"{_dead_url()}/v1"})

    assert code == 1
    assert "ConnectionRefusedError" in results["LLM provider"].detail
    assert "OPENAI_BASE_URL" in results["LLM provider"].fix


def test_a_worker_and_api_that_do_not_answer_fail(env: dict[str, str]):
    code, _, results = doctor({**env, "WORKER_URL": _dead_url(), "API_PORT": str(free_port())})

    assert code == 1
    assert results["worker answers"].status == "FAIL"
    assert "make worker" in results["worker answers"].fix
    assert results["api /healthz"].status == "FAIL"
    assert "make api" in results["api /healthz"].fix


def test_a_jwks_without_keys_fails(env: dict[str, str], tmp_path: Path):
    empty = tmp_path / "empty-jwks.json"
    empty.write_text(json.dumps({"keys": []}))

    code, _, results = doctor({**env, "AUTH_JWKS_FILE": str(empty)})

    assert code == 1
    assert results["JWKS"].detail == f"{empty} holds no keys"


@pytest.mark.parametrize(
    ("fault", "why"),
    [
        ({}, "QUEUED past the redrive time"),
        (
            {"status": "RUNNING", "leaseOwner": "gone", "leaseExpiresAt": -600},
            "RUNNING with an expired lease",
        ),
        ({"deadlineAt": -600}, "past its deadline"),
        ({"status": "WAITING", "wait.timeoutAt": -600}, "WAITING past its wait's timeout"),
    ],
)
def test_stuck_runs_are_listed_with_their_ids(
    env: dict[str, str], stack: Stack, fault: dict[str, object], why: str
):
    settings = stack.services.settings
    SubscriberClient().delete_subscription(  # published, never delivered
        subscription=SubscriberClient.subscription_path(
            settings.project, subscription_id(settings.events_topic)
        )
    )
    created = stack.create_brainstorm()
    fresh = stack.create_brainstorm(prompt="A second exchange about rivers and music")
    now = datetime.now(UTC)
    stuck = {k: now + timedelta(seconds=v) if isinstance(v, int) else v for k, v in fault.items()}
    if stuck:
        stack.services.db.document(f"runs/{created['runId']}").update(stuck)
    later = timedelta(seconds=200) if not fault else timedelta()

    code, _, results = doctor(env, later)

    assert code == 1
    detail = results["stuck runs"].detail
    assert f"{created['runId']} ({why})" in detail
    if fault:
        assert fresh["runId"] not in detail


def test_a_run_waiting_before_its_timeout_is_not_stuck(env: dict[str, str], stack: Stack):
    created = stack.create_brainstorm()
    now = datetime.now(UTC)
    stack.services.db.document(f"runs/{created['runId']}").update(
        {
            "status": "WAITING",
            "createdAt": now - timedelta(days=2),
            "deadlineAt": now + timedelta(days=6),
            "wait": {"step": "review", "timeoutAt": now + timedelta(days=5)},
        }
    )

    _, _, results = doctor(env, timedelta(seconds=200))

    assert created["runId"] not in results["stuck runs"].detail


def test_without_the_emulators_doctor_says_how_to_start_them_and_stops_quickly(
    env: dict[str, str],
):
    dead = {
        "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{free_port()}",
        "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{free_port()}",
    }
    started = time.monotonic()

    results = {r.check: r for r in check_local({**env, **dead})}

    assert time.monotonic() - started < 30
    assert results["emulators"].status == "FAIL"
    assert "make emulators" in results["emulators"].fix
    assert results["api /healthz"].status == "OK"  # what does not need them is still checked


@pytest.fixture
def fallback() -> Iterator[OpenAIServer]:
    with OpenAIServer(model="fallback-model") as server:
        yield server


def _with_fallback(env: dict[str, str], fallback: OpenAIServer, model: str) -> dict[str, str]:
    key = make_test_key()
    fallback.accepted_keys = {key}
    entry = {"model": model, "baseUrl": fallback.base_url, "apiKeyEnv": "FALLBACK_KEY"}
    return {**env, "LLM_FALLBACKS": json.dumps([entry]), "FALLBACK_KEY": key}


def test_every_configured_fallback_model_is_checked(
    env: dict[str, str], stack: Stack, fallback: OpenAIServer
):
    stack.llm.accepted_keys = {env["OPENAI_API_KEY"]}
    env = _with_fallback(env, fallback, "fallback-model")

    code, out, results = doctor(env)

    assert code == 0, out
    checked = results["LLM fallback 1 (fallback-model)"]
    assert checked.status == "OK"
    assert "lists 'fallback-model'" in checked.detail
    assert env["FALLBACK_KEY"] not in out


def test_a_fallback_that_refuses_its_key_fails_and_the_key_is_never_printed(
    env: dict[str, str], stack: Stack, fallback: OpenAIServer
):
    stack.llm.accepted_keys = {env["OPENAI_API_KEY"]}
    env = _with_fallback(env, fallback, "fallback-model")
    fallback.accepted_keys = {make_test_key()}

    code, out, results = doctor(env)

    assert code == 1
    failed = results["LLM fallback 1 (fallback-model)"]
    assert failed.status == "FAIL"
    assert "refuses the key (HTTP 401)" in failed.detail
    assert "LLM_FALLBACKS" in failed.fix
    assert env["FALLBACK_KEY"] not in out


def test_a_fallback_model_its_endpoint_does_not_serve_fails(
    env: dict[str, str], stack: Stack, fallback: OpenAIServer
):
    stack.llm.accepted_keys = {env["OPENAI_API_KEY"]}

    code, _, results = doctor(_with_fallback(env, fallback, "no-such-model"))

    assert code == 1
    assert "does not list 'no-such-model'" in results["LLM fallback 1 (no-such-model)"].detail
