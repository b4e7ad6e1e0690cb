"""`python -m devtools.doctor --project P --region R` finds each Cloud-only fault, with its fix.

Google's APIs without an emulator are local doubles over real HTTP: Cloud
Functions (the deployed configuration), Pub/Sub IAM, Monitoring (the
dead-letter backlog), Secret Manager (the key, through the real client's REST
transport); the JWKS and the OpenAI-compatible provider are doubles too.
Pub/Sub and Firestore are the emulators, the worker and api real processes.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient
from google.pubsub_v1.types import PushConfig

from devtools.doctor_checks import Result, report
from devtools.doctor_cloud import PUSH_ACCOUNT, Endpoints, cloud_checks
from devtools.provision import parked_topic, push_endpoint, repoint, subscription_id
from devtools.worker_process import WorkerProcess
from tests.helpers.auth_support import JwksServer, SigningKey, jwks
from tests.helpers.doctor_support import GoogleApisDouble
from tests.helpers.llm_support import SecretManagerDouble, make_test_key
from tests.helpers.stack import Stack

REGION = "europe-west1"
PUBSUB_AGENT = "serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com"
BACKEND = "serviceAccount:backend@demo-genjobs-test.iam.gserviceaccount.com"


@dataclass
class Deployment:
    """A healthy deployment; each test breaks one thing."""

    project: str
    events_topic: str
    dead_letter_topic: str
    triggers_topic: str
    apis: GoogleApisDouble
    secrets: SecretManagerDouble
    secret_version: str
    key: str
    jwks: JwksServer
    stack: Stack

    def doctor(self) -> tuple[int, str, dict[str, Result]]:
        results = cloud_checks(
            self.project,
            REGION,
            credentials=AnonymousCredentials(),
            endpoints=Endpoints(
                functions=self.apis.origin,
                monitoring=self.apis.origin,
                pubsub=self.apis.origin,
                secret_manager=self.secrets.endpoint,
            ),
        )
        out = io.StringIO()
        code = report(results, out)
        return code, out.getvalue(), {r.check: r for r in results}


def _granted(role: str) -> dict[str, object]:
    return {"bindings": [{"role": role, "members": [PUBSUB_AGENT]}]}


@pytest.fixture
def deployment(
    stack: Stack, functions: dict[str, WorkerProcess], signing_key: SigningKey
) -> Iterator[Deployment]:
    settings = stack.services.settings
    project, events, dead_letter, triggers = (
        settings.project,
        settings.events_topic,
        settings.dead_letter_topic,
        settings.triggers_topic,
    )
    worker_url = functions["worker"].url
    publisher, subscriber = PublisherClient(), SubscriberClient()
    identity = f"{PUSH_ACCOUNT}@{project}.iam.gserviceaccount.com"
    # The stack created the events and dead-letter topics; Terraform's results
    # topic and subscriptions (OIDC included):
    results = f"{events}-results"
    publisher.create_topic(name=publisher.topic_path(project, results))
    publisher.create_topic(name=publisher.topic_path(project, triggers))
    parked = parked_topic(dead_letter)
    for topic, dead_lettered_to in (
        (events, dead_letter),
        (dead_letter, parked),
        (triggers, dead_letter),
    ):
        request: dict[str, object] = {
            "name": subscriber.subscription_path(project, subscription_id(topic)),
            "topic": publisher.topic_path(project, topic),
            "push_config": PushConfig(
                push_endpoint=push_endpoint(worker_url, project, topic),
                oidc_token=PushConfig.OidcToken(
                    service_account_email=identity, audience=worker_url
                ),
            ),
            "retry_policy": {
                "minimum_backoff": {"seconds": 10},
                "maximum_backoff": {"seconds": 600},
            },
        }
        request["dead_letter_policy"] = {
            "dead_letter_topic": publisher.topic_path(project, dead_lettered_to),
            "max_delivery_attempts": 5 if topic == dead_letter else 15,
        }
        subscriber.create_subscription(request=request)
    assert stack.sweep().status == 200  # the heartbeat of a sweep that runs

    key = make_test_key()
    version = f"projects/{project}/secrets/openai-api-key/versions/latest"
    stack.llm.accepted_keys = {key}
    with (
        GoogleApisDouble() as apis,
        SecretManagerDouble({version: key}) as secrets,
        JwksServer(jwks(signing_key)) as jwks_server,
    ):
        apis.functions = {
            "api": {
                "uri": functions["api"].url,
                "environmentVariables": {"AUTH_JWKS_URL": jwks_server.url},
            },
            "worker": {
                "uri": worker_url,
                "environmentVariables": {
                    "EVENTS_TOPIC": events,
                    "DEAD_LETTER_TOPIC": dead_letter,
                    "RESULTS_TOPIC": results,
                    "TRIGGERS_TOPIC": triggers,
                    "FIRESTORE_DATABASE": "(default)",
                    "OPENAI_API_KEY_SECRET": version,
                    "OPENAI_BASE_URL": stack.llm.base_url,
                },
            },
        }
        apis.policies = {
            publisher.topic_path(project, dead_letter): _granted("roles/pubsub.publisher"),
            publisher.topic_path(project, parked): _granted("roles/pubsub.publisher"),
            subscriber.subscription_path(project, subscription_id(events)): _granted(
                "roles/pubsub.subscriber"
            ),
            subscriber.subscription_path(project, subscription_id(dead_letter)): _granted(
                "roles/pubsub.subscriber"
            ),
            subscriber.subscription_path(project, subscription_id(triggers)): _granted(
                "roles/pubsub.subscriber"
            ),
            publisher.topic_path(project, triggers): {
                "bindings": [{"role": "roles/pubsub.publisher", "members": [BACKEND]}]
            },
        }
        apis.backlogs = {subscription_id(dead_letter): 0}
        yield Deployment(
            project,
            events,
            dead_letter,
            triggers,
            apis,
            secrets,
            version,
            key,
            jwks_server,
            stack,
        )


def test_a_healthy_deployment_passes_every_check(deployment: Deployment):
    code, out, results = deployment.doctor()

    assert code == 0, out
    assert {r.status for r in results.values()} == {"OK"}
    assert "Pub/Sub may dead-letter" in results
    assert results["dead-letter backlog"].detail.startswith("nothing waiting")
    assert deployment.key not in out


def test_the_trigger_publishers_are_listed(deployment: Deployment):
    _, _, results = deployment.doctor()

    result = results["who may publish triggers"]
    assert result.status == "OK"
    assert BACKEND in result.detail
    assert "any tenant" in result.detail


def test_a_triggers_topic_anyone_may_publish_to_fails(deployment: Deployment):
    topic = PublisherClient.topic_path(deployment.project, deployment.triggers_topic)
    deployment.apis.policies[topic] = {
        "bindings": [{"role": "roles/pubsub.publisher", "members": [BACKEND, "allUsers"]}]
    }

    code, _, results = deployment.doctor()

    assert code == 1
    result = results["who may publish triggers"]
    assert result.status == "FAIL"
    assert result.detail.startswith("allUsers may publish")
    assert "trigger_publishers" in result.fix


def test_a_pubsub_agent_that_may_not_acknowledge_on_the_triggers_subscription_fails(
    deployment: Deployment,
):
    name = subscription_id(deployment.triggers_topic)
    source = SubscriberClient.subscription_path(deployment.project, name)
    deployment.apis.policies[source] = _granted("roles/pubsub.viewer")

    code, _, results = deployment.doctor()

    assert code == 1
    result = results["Pub/Sub may dead-letter"]
    assert result.detail.startswith(f"the Pub/Sub service agent may not acknowledge on {name}:")


def test_a_pubsub_agent_that_may_not_publish_dead_letters_fails(deployment: Deployment):
    topic = PublisherClient.topic_path(deployment.project, deployment.dead_letter_topic)
    deployment.apis.policies[topic] = _granted("roles/pubsub.viewer")

    code, _, results = deployment.doctor()

    assert code == 1
    result = results["Pub/Sub may dead-letter"]
    assert result.status == "FAIL"
    assert result.detail.startswith(
        f"the Pub/Sub service agent may not publish to {deployment.dead_letter_topic}:"
    )
    assert "terraform apply" in result.fix


def test_a_pubsub_agent_that_may_not_acknowledge_on_the_source_fails(deployment: Deployment):
    name = subscription_id(deployment.events_topic)
    source = SubscriberClient.subscription_path(deployment.project, name)
    deployment.apis.policies[source] = _granted("roles/pubsub.viewer")

    code, _, results = deployment.doctor()

    assert code == 1
    result = results["Pub/Sub may dead-letter"]
    assert result.detail.startswith(f"the Pub/Sub service agent may not acknowledge on {name}:")


def test_a_push_subscription_without_the_oidc_identity_fails(deployment: Deployment):
    project, topic = deployment.project, deployment.events_topic
    name = subscription_id(topic)
    worker_url = deployment.apis.functions["worker"]["uri"]
    repoint(project, {topic: SubscriberClient.subscription_path(project, name)}, worker_url)

    code, _, results = deployment.doctor()

    assert code == 1
    detail = results[f"subscription {name}"].detail
    assert f"OIDC identity is (none), not {PUSH_ACCOUNT}@{project}.iam" in detail


def test_a_key_secret_without_a_version_fails_with_the_command_that_adds_one(
    deployment: Deployment,
):
    deployment.secrets.secrets.clear()

    code, _, results = deployment.doctor()

    assert code == 1
    assert results["LLM provider"].status == "FAIL"
    assert "does not exist" in results["LLM provider"].detail
    assert "gcloud secrets versions add openai-api-key" in results["LLM provider"].fix


def test_a_key_the_provider_refuses_fails_and_is_never_printed(deployment: Deployment):
    deployment.stack.llm.accepted_keys = {make_test_key()}

    code, out, results = deployment.doctor()

    assert code == 1
    assert "refuses the key (HTTP 401)" in results["LLM provider"].detail
    assert deployment.key not in out


def test_a_jwks_url_without_keys_fails_with_the_terraform_variable(deployment: Deployment):
    deployment.jwks.document = {"keys": []}

    code, _, results = deployment.doctor()

    assert code == 1
    assert results["JWKS"].detail.endswith("holds no keys")
    assert "auth_jwks_url" in results["JWKS"].fix


def test_a_dead_letter_backlog_fails(deployment: Deployment):
    deployment.apis.backlogs = {subscription_id(deployment.dead_letter_topic): 3}

    code, _, results = deployment.doctor()

    assert code == 1
    assert results["dead-letter backlog"].detail.startswith("3 messages undelivered")


def test_a_missing_results_topic_fails(deployment: Deployment):
    results = f"{deployment.events_topic}-results"
    PublisherClient().delete_topic(topic=PublisherClient.topic_path(deployment.project, results))

    code, _, found = deployment.doctor()

    assert code == 1
    assert found[f"topic {results}"].detail == "does not exist"
    assert "terraform apply" in found[f"topic {results}"].fix


def test_a_function_that_is_not_deployed_fails(deployment: Deployment):
    del deployment.apis.functions["worker"]

    code, _, results = deployment.doctor()

    assert code == 1
    assert results["function worker"].detail == "not deployed"
    assert results["worker answers"].status == "FAIL"


def test_without_application_default_credentials_doctor_says_how_to_log_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))

    [result] = cloud_checks("demo-genjobs-test", REGION)

    assert (result.check, result.status) == ("credentials", "FAIL")
    assert result.fix == "gcloud auth application-default login"


def test_a_fallback_secret_without_a_version_fails_with_the_command_that_adds_one(
    deployment: Deployment,
):
    version = f"projects/{deployment.project}/secrets/fallback-key/versions/latest"
    fallback = {"model": "test-model", "baseUrl": "https://fallback.invalid/v1"}
    worker_env = deployment.apis.functions["worker"]["environmentVariables"]
    worker_env["LLM_FALLBACKS"] = json.dumps([{**fallback, "apiKeySecret": version}])

    code, _, results = deployment.doctor()

    assert code == 1
    failed = results["LLM fallback 1 (test-model)"]
    assert failed.status == "FAIL"
    assert f"Secret {version} does not exist" in failed.detail
    assert "gcloud secrets versions add fallback-key" in failed.fix


def test_a_fallback_with_its_own_secret_is_checked_with_that_key(deployment: Deployment):
    version = f"projects/{deployment.project}/secrets/fallback-key/versions/latest"
    key = make_test_key()
    deployment.secrets.secrets[version] = key
    deployment.stack.llm.accepted_keys = {deployment.key, key}
    fallback = {"model": "test-model", "baseUrl": deployment.stack.llm.base_url}
    worker_env = deployment.apis.functions["worker"]["environmentVariables"]
    worker_env["LLM_FALLBACKS"] = json.dumps([{**fallback, "apiKeySecret": version}])

    code, out, results = deployment.doctor()

    assert code == 0, out
    assert results["LLM fallback 1 (test-model)"].status == "OK"
    assert version in deployment.secrets.requests
    assert key not in out


def test_a_pubsub_agent_that_may_not_park_dead_letters_fails(deployment: Deployment):
    parked = parked_topic(deployment.dead_letter_topic)
    deployment.apis.policies[PublisherClient.topic_path(deployment.project, parked)] = _granted(
        "roles/pubsub.viewer"
    )

    code, _, results = deployment.doctor()

    assert code == 1
    result = results["Pub/Sub may dead-letter"]
    assert result.status == "FAIL"
    assert result.detail.startswith(f"the Pub/Sub service agent may not publish to {parked}:")
