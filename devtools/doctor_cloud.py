"""`doctor` against a deployment: the configuration comes from the deployed functions themselves.

The Cloud Functions API gives each function's URL and environment (topics,
database, the key secret's version name, the JWKS URL), so the checks compare
Pub/Sub, Secret Manager and the provider with what the code will actually
use, not with what a local file says. Everything uses Application Default
Credentials; every Google endpoint can be pointed elsewhere (`Endpoints`),
which is how the tests run these checks against local doubles.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import google.auth
import google.auth.exceptions
from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.auth.credentials import Credentials
from google.auth.transport.requests import AuthorizedSession
from google.cloud import firestore
from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient
from google.cloud.secretmanager import SecretManagerServiceClient

from devtools.doctor_checks import (
    Clients,
    Fixes,
    Result,
    Target,
    fail,
    read_fallbacks,
    run_checks,
)
from shared.adapters.secrets import SecretReader

PUSH_ACCOUNT = "genjobs-push-invoker"
SCHEDULER_JOB = "genjobs-sweep"
BACKLOG_METRIC = "pubsub.googleapis.com/subscription/num_undelivered_messages"


@dataclass(frozen=True)
class Endpoints:
    functions: str = "https://cloudfunctions.googleapis.com"
    monitoring: str = "https://monitoring.googleapis.com"
    pubsub: str = "https://pubsub.googleapis.com"  # IAM policies (the rest: the client library)
    # None: the client library's default.
    secret_manager: str | None = None


def function_config(
    session: AuthorizedSession, endpoints: Endpoints, project: str, region: str, name: str
) -> dict[str, Any] | None:
    url = f"{endpoints.functions}/v2/projects/{project}/locations/{region}/functions/{name}"
    response = session.get(url, timeout=30)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    config: dict[str, Any] = response.json().get("serviceConfig") or {}
    return config


def _fixes(project: str, region: str, secret: str) -> Fixes:
    apply = f"cd infra && terraform apply -var=project_id={project} -var=region={region}"
    return Fixes(
        pubsub=f"{apply} (Terraform owns topics, subscriptions and their IAM; infra/pubsub.tf)",
        worker=f"make bundle && {apply}; then `gcloud functions logs read worker "
        f"--region={region}`",
        api=f"make bundle && {apply}; then `gcloud functions logs read api --region={region}`",
        llm_key="add a valid key as a new secret version (nothing echoed): `read -rs KEY && "
        f'printf %s "$KEY" | gcloud secrets versions add {secret} --data-file=-` '
        "(infra/README.md, Deploy step 6)",
        llm_url="set the Terraform variable openai_base_url to a server that answers, "
        f"then {apply}",
        jwks=f"set the Terraform variable auth_jwks_url to your issuer's JWKS URL, then {apply}",
        sweep=f"`gcloud scheduler jobs describe {SCHEDULER_JOB} --location={region}` "
        f"(resume it with `gcloud scheduler jobs resume {SCHEDULER_JOB} --location={region}`); "
        "the worker must answer",
        backlog=f"the worker fails dead-lettered messages: `gcloud functions logs read worker "
        f"--region={region}`",
    )


def _secret_id(version: str | None) -> str:
    """`openai-api-key` of `projects/p/secrets/openai-api-key/versions/latest`."""
    parts = (version or "").split("/")
    return parts[3] if len(parts) >= 4 and parts[2] == "secrets" else "openai-api-key"


def cloud_target(
    project: str,
    region: str,
    api: dict[str, Any] | None,
    worker: dict[str, Any] | None,
) -> Target:
    api_env: dict[str, str] = (api or {}).get("environmentVariables") or {}
    worker_env: dict[str, str] = (worker or {}).get("environmentVariables") or {}
    # Terraform gives the deployed worker apiKeySecret entries only, never apiKeyEnv.
    fallbacks, fallbacks_problem = read_fallbacks(worker_env.get("LLM_FALLBACKS"), worker_env)
    return Target(
        where="cloud",
        project=project,
        events_topic=worker_env.get("EVENTS_TOPIC", "generation-events"),
        dead_letter_topic=worker_env.get("DEAD_LETTER_TOPIC", "generation-events-dead-letter"),
        results_topic=worker_env.get("RESULTS_TOPIC"),
        triggers_topic=worker_env.get("TRIGGERS_TOPIC", "generation-triggers"),
        worker_url=(worker or {}).get("uri"),
        api_url=(api or {}).get("uri"),
        fixes=_fixes(project, region, _secret_id(worker_env.get("OPENAI_API_KEY_SECRET"))),
        push_identity=f"{PUSH_ACCOUNT}@{project}.iam.gserviceaccount.com",
        llm_key_secret=worker_env.get("OPENAI_API_KEY_SECRET"),
        llm_base_url=worker_env.get("OPENAI_BASE_URL"),
        llm_fallbacks=fallbacks,
        llm_fallbacks_problem=fallbacks_problem,
        jwks_url=api_env.get("AUTH_JWKS_URL"),
        redrive_after=timedelta(seconds=float(worker_env.get("REDRIVE_AFTER_SECONDS") or 120)),
    )


def _backlog_reader(
    session: AuthorizedSession, endpoints: Endpoints, project: str, now: Any
) -> Any:
    def backlog(subscription: str) -> int | None:
        end = now()
        params = {
            "filter": f'metric.type="{BACKLOG_METRIC}" AND '
            f'resource.labels.subscription_id="{subscription}"',
            "interval.startTime": (end - timedelta(minutes=10)).isoformat(),
            "interval.endTime": end.isoformat(),
        }
        url = f"{endpoints.monitoring}/v3/projects/{project}/timeSeries"
        response = session.get(url, params=params, timeout=30)
        response.raise_for_status()
        series = response.json().get("timeSeries") or []
        if not series:
            return None
        # Points come newest first.
        return int(series[0]["points"][0]["value"].get("int64Value", 0))

    return backlog


def cloud_clients(
    project: str,
    database: str,
    credentials: Credentials,
    endpoints: Endpoints,
    session: AuthorizedSession,
) -> Clients:
    def iam_policy(resource: str) -> dict[str, Any]:
        url = f"{endpoints.pubsub}/v1/{resource}:getIamPolicy"
        response = session.post(url, json={}, timeout=30)
        if response.status_code >= 400:
            raise gexc.from_http_response(response)  # type: ignore[no-untyped-call]
        policy: dict[str, Any] = response.json()
        return policy

    def secret_client() -> SecretManagerServiceClient:
        if endpoints.secret_manager is None:
            return SecretManagerServiceClient(credentials=credentials)
        return SecretManagerServiceClient(
            credentials=credentials,
            transport="rest",
            client_options=ClientOptions(api_endpoint=endpoints.secret_manager),
        )

    clients = Clients(
        publisher=PublisherClient(credentials=credentials),
        subscriber=SubscriberClient(credentials=credentials),
        db=firestore.Client(project=project, database=database, credentials=credentials),
        iam_policy=iam_policy,
        read_secret=SecretReader(secret_client).read,
    )
    clients.dead_letter_backlog = _backlog_reader(session, endpoints, project, clients.now)
    return clients


def cloud_checks(
    project: str,
    region: str,
    *,
    credentials: Credentials | None = None,
    endpoints: Endpoints | None = None,
    sweep_max_age: timedelta = timedelta(minutes=3),
) -> list[Result]:
    endpoints = endpoints or Endpoints()
    if credentials is None:
        try:
            credentials, _ = google.auth.default(
                scopes=["https://www.googleapis.com/auth/cloud-platform"]
            )
        except google.auth.exceptions.DefaultCredentialsError:
            return [
                fail(
                    "credentials",
                    "no Application Default Credentials",
                    "gcloud auth application-default login",
                )
            ]
    session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
    fixes = _fixes(project, region, "openai-api-key")
    found = {
        name: function_config(session, endpoints, project, region, name)
        for name in ("api", "worker")
    }
    missing = [
        fail(f"function {name}", "not deployed", fixes.api if name == "api" else fixes.worker)
        for name, config in found.items()
        if config is None
    ]
    target = replace(
        cloud_target(project, region, found["api"], found["worker"]), sweep_max_age=sweep_max_age
    )
    database = ((found["worker"] or {}).get("environmentVariables") or {}).get(
        "FIRESTORE_DATABASE", "(default)"
    )
    clients = cloud_clients(project, database, credentials, endpoints, session)
    return missing + run_checks(target, clients)
