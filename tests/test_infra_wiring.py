"""Wiring of infra/*.tf, checked offline by parsing the HCL (python-hcl2).

`terraform validate/plan` need the provider from the registry; these tests
pin down what matters without it: who pushes where, who may invoke what, which
settings reach the functions, and that every reference resolves.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from shared.adapters.firestore_breaker import BREAKERS
from shared.adapters.firestore_budget import ADMISSION, BUDGET
from tests.helpers.infra_support import (
    CONFIG_PY,
    DATA_REF,
    RESOURCE_REF,
    VAR_REF,
    Infra,
    block,
    config_env_names,
    env_of,
    function,
    index_specs,
    parse_tf,
    unwrap,
)

PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
IAM_SUFFIXES = ("_iam_member", "_iam_binding", "_iam_policy")

COMMON_ENV = {"GOOGLE_CLOUD_PROJECT", "FIRESTORE_DATABASE", "EVENTS_TOPIC", "DEAD_LETTER_TOPIC"}
COMMON_ENV |= {"LOG_LEVEL", "TRACE_EXPORTER", "TRACE_SAMPLE_RATIO"}
API_ENV = {"AUTH_JWKS_URL", "AUTH_ISSUER", "AUTH_AUDIENCE", "AUTH_TENANT_CLAIM", "THREADS"}
WORKER_ENV = {"OPENAI_API_KEY_SECRET", "OPENAI_MODEL", "OPENAI_BASE_URL", "LEASE_SECONDS"}
WORKER_ENV |= {"STEP_MAX_ATTEMPTS", "THREADS"}


@pytest.fixture(scope="module")
def infra() -> Infra:
    return Infra.load()


@pytest.fixture(scope="module")
def config_names() -> set[str]:
    names = config_env_names(CONFIG_PY.read_text(encoding="utf-8"))
    assert "GOOGLE_CLOUD_PROJECT" in names, "could not read the settings of shared/config.py"
    return names


# --- helpers that name the parts -------------------------------------------


def ref(rtype: str, name: str, attr: str) -> str:
    return f"${{{rtype}.{name}.{attr}}}"


def topic(infra: Infra, var: str) -> str:
    name, _ = infra.one("google_pubsub_topic", name=f"${{var.{var}}}")
    return name


def subscriptions_of(infra: Infra, topic_name: str) -> dict[str, dict[str, Any]]:
    wanted = {
        ref("google_pubsub_topic", topic_name, "id"),
        ref("google_pubsub_topic", topic_name, "name"),
    }
    return {
        name: body
        for name, body in infra.of_type("google_pubsub_subscription").items()
        if body.get("topic") in wanted
    }


def the_subscription(infra: Infra, topic_var: str) -> dict[str, Any]:
    subs = subscriptions_of(infra, topic(infra, topic_var))
    assert len(subs) == 1, f"expected one subscription on var.{topic_var}, found {list(subs)}"
    return next(iter(subs.values()))


def push_endpoint(infra: Infra, sub: dict[str, Any]) -> str:
    return infra.resolve(str(block(sub, "push_config")["push_endpoint"]))


def worker_uri(infra: Infra) -> str:
    name, _ = function(infra, "worker")
    return ref("google_cloudfunctions2_function", name, "service_config[0].uri")


def push_subscriptions(infra: Infra) -> dict[str, dict[str, Any]]:
    """The subscriptions that push to the worker (the parked one is pulled by an operator)."""
    return {
        name: body
        for name, body in infra.of_type("google_pubsub_subscription").items()
        if "push_config" in body
    }


def parked_topic(infra: Infra) -> str:
    name, _ = infra.one("google_pubsub_topic", name="${local.parked_topic}")
    return name


def push_sa_ref(infra: Infra) -> str:
    """`google_service_account.X` of the OIDC tokens (the same on every push)."""
    emails = {
        block(block(body, "push_config"), "oidc_token").get("service_account_email")
        for body in push_subscriptions(infra).values()
    }
    assert len(emails) == 1, f"push subscriptions use different OIDC identities: {emails}"
    email = str(emails.pop())
    match = re.fullmatch(r"\$\{(google_service_account\.[\w-]+)\.email\}", email)
    assert match, f"OIDC identity is not a service account of this configuration: {email}"
    return match[1]


def iam_resources(infra: Infra) -> dict[tuple[str, str], dict[str, Any]]:
    return {k: v for k, v in infra.resources.items() if k[0].endswith(IAM_SUFFIXES)}


# --- Pub/Sub: subscriptions, dead letters, push identity ---------------------


def test_main_subscription_dead_letters_to_the_dead_letter_topic(infra: Infra) -> None:
    sub = the_subscription(infra, "events_topic")
    policy = block(sub, "dead_letter_policy")
    dead_letter = topic(infra, "dead_letter_topic")
    assert policy["dead_letter_topic"] == ref("google_pubsub_topic", dead_letter, "id")
    assert policy["max_delivery_attempts"] == "${var.max_delivery_attempts}"


def test_main_subscription_pushes_to_the_worker_at_the_events_topic_path(infra: Infra) -> None:
    sub = the_subscription(infra, "events_topic")
    expected = f"{worker_uri(infra)}/projects/${{var.project_id}}/topics/${{var.events_topic}}"
    assert push_endpoint(infra, sub) == expected


def test_dead_letter_subscription_reads_that_topic_and_pushes_to_the_dead_letter_path(
    infra: Infra,
) -> None:
    sub = the_subscription(infra, "dead_letter_topic")
    expected = f"{worker_uri(infra)}/projects/${{var.project_id}}/topics/${{var.dead_letter_topic}}"
    assert push_endpoint(infra, sub) == expected


def test_dead_letters_the_worker_cannot_fail_are_parked_after_five_attempts(
    infra: Infra,
) -> None:
    """A dead letter that fails every time must not come back for as long as Pub/Sub keeps it."""
    policy = block(the_subscription(infra, "dead_letter_topic"), "dead_letter_policy")
    parked = parked_topic(infra)
    assert policy["dead_letter_topic"] == ref("google_pubsub_topic", parked, "id")
    assert infra.local_value("parked_after_attempts") == 5
    assert infra.local_value("parked_topic") == "${var.dead_letter_topic}-parked"
    (hold,) = subscriptions_of(infra, parked).values()
    assert "push_config" not in hold, "parked messages wait for an operator"
    assert "dead_letter_policy" not in hold
    assert hold["message_retention_duration"] == "604800s"


def test_subscriptions_retry_with_exponential_backoff_within_the_ack_cap(infra: Infra) -> None:
    subs = push_subscriptions(infra)
    assert len(subs) == 3  # events, dead letters, trigger events
    for name, sub in subs.items():
        retry = block(sub, "retry_policy")
        assert retry.get("minimum_backoff"), name
        assert retry.get("maximum_backoff"), name
        deadline = infra.resolve(str(sub["ack_deadline_seconds"]))
        assert "min(600" in deadline or (deadline.isdigit() and int(deadline) <= 600), deadline
        assert "var.worker_timeout_seconds" in deadline, "ack deadline must follow the timeout"


def test_every_push_carries_an_oidc_token_of_the_push_account(infra: Infra) -> None:
    sa = push_sa_ref(infra)
    assert sa == "google_service_account.push"
    for name, sub in push_subscriptions(infra).items():
        oidc = block(block(sub, "push_config"), "oidc_token")
        assert oidc["service_account_email"] == f"${{{sa}.email}}", name


def test_push_account_invokes_only_the_worker_service(infra: Infra) -> None:
    sa = push_sa_ref(infra)
    member = f"serviceAccount:${{{sa}.email}}"
    worker, _ = function(infra, "worker")
    grants = [
        (key, body)
        for key, body in iam_resources(infra).items()
        if body.get("member") == member or member in body.get("members", [])
    ]
    run_iam = ("google_cloud_run_v2_service_iam_member", "google_cloud_run_service_iam_member")
    invoker = [
        (key, body)
        for key, body in grants
        if body.get("role") == "roles/run.invoker" and key[0] in run_iam
    ]
    assert len(invoker) == 1, f"push SA needs run.invoker on the worker service: {grants}"
    (_, body) = invoker[0]
    target = str(body.get("name", body.get("service")))
    assert f"google_cloudfunctions2_function.{worker}." in target
    assert [key for key, _ in grants] == [invoker[0][0]], "the push SA has other grants"


def test_push_account_has_no_project_level_role(infra: Infra) -> None:
    sa = push_sa_ref(infra)
    for (rtype, name), body in infra.resources.items():
        if rtype.startswith(("google_project_iam", "google_organization_iam", "google_folder_iam")):
            assert f"{sa}." not in infra.text_of(body), f"{rtype}.{name} grants the push SA"


def test_both_functions_may_write_spans_to_an_enabled_cloud_trace(infra: Infra) -> None:
    grants = {(v["member"], v["role"]) for v in infra.local_value("project_roles").values()}
    for account in ("api", "worker"):
        member = f"serviceAccount:${{google_service_account.{account}.email}}"
        assert (member, "roles/cloudtrace.agent") in grants, f"{account} cannot write spans"
    assert "cloudtrace.googleapis.com" in infra.local_value("required_apis")
    assert infra.local_value("common_env")["TRACE_EXPORTER"] == "${var.trace_exporter}"


def test_pubsub_agent_can_dead_letter(infra: Infra) -> None:
    agent = "local.pubsub_service_agent"
    assert "gcp-sa-pubsub.iam.gserviceaccount.com" in str(infra.local_value("pubsub_service_agent"))
    dead_letter = topic(infra, "dead_letter_topic")
    publishers = [
        body
        for body in infra.of_type("google_pubsub_topic_iam_member").values()
        if body["role"] == "roles/pubsub.publisher" and agent in body["member"]
    ]
    (publisher,) = publishers
    assert sorted(publisher["for_each"].values()) == sorted(
        ref("google_pubsub_topic", name, "name") for name in (dead_letter, parked_topic(infra))
    )
    assert publisher["topic"] == "${each.value}"
    sources = [
        next(iter(subscriptions_of(infra, topic(infra, var))))
        for var in ("events_topic", "dead_letter_topic", "triggers_topic")
    ]
    subscribers = [
        body
        for body in infra.of_type("google_pubsub_subscription_iam_member").values()
        if body["role"] == "roles/pubsub.subscriber" and agent in body["member"]
        for subscription in infra.expand_for_each(body)
    ]
    (subscriber,) = subscribers
    assert sorted(subscriber["for_each"].values()) == sorted(
        ref("google_pubsub_subscription", name, "name") for name in sources
    )
    assert subscriber["subscription"] == "${each.value}"


# --- trigger events: the topic backends publish to ----------------------------


def test_triggers_subscription_pushes_to_the_worker_with_the_events_policies(
    infra: Infra,
) -> None:
    triggers = the_subscription(infra, "triggers_topic")
    events = the_subscription(infra, "events_topic")
    expected = f"{worker_uri(infra)}/projects/${{var.project_id}}/topics/${{var.triggers_topic}}"
    assert push_endpoint(infra, triggers) == expected
    for policy in ("retry_policy", "dead_letter_policy"):
        assert block(triggers, policy) == block(events, policy), policy
    assert triggers["ack_deadline_seconds"] == events["ack_deadline_seconds"]


def test_trigger_publishers_may_publish_to_the_triggers_topic_and_nothing_else(
    infra: Infra,
) -> None:
    triggers = topic(infra, "triggers_topic")
    granted = [
        (key, body)
        for key, body in iam_resources(infra).items()
        if "var.trigger_publishers" in infra.text_of(body)
    ]
    assert len(granted) == 1, granted
    (rtype, _), body = granted[0]
    assert rtype == "google_pubsub_topic_iam_member"
    assert body["role"] == "roles/pubsub.publisher"
    assert body["topic"] == ref("google_pubsub_topic", triggers, "name")
    assert body["member"] == "${each.value}"
    assert infra.variables["trigger_publishers"]["default"] == []
    condition = infra.variables["trigger_publishers"]["validation"][0]["condition"]
    assert "serviceAccount|user|group" in condition  # never allUsers


def test_the_worker_knows_the_triggers_topic_and_the_tenant_allow_list(infra: Infra) -> None:
    values = infra.env_values(env_of(infra, "worker"))
    assert (
        values["TRIGGERS_TOPIC"]
        == f"${{google_pubsub_topic.{topic(infra, 'triggers_topic')}.name}}"
    )
    optional = str(infra.local_value("worker_optional_env"))
    assert "length(var.trigger_tenants) == 0 ? {}" in optional
    assert "TRIGGER_TENANTS" in optional


# --- functions: exposure and settings ----------------------------------------


def test_worker_is_not_publicly_invokable(infra: Infra) -> None:
    worker, body = function(infra, "worker")
    assert "event_trigger" not in body, "the worker is fed by our push subscriptions only"
    assert block(body, "service_config").get("ingress_settings") != "ALLOW_ALL"
    for key, iam in iam_resources(infra).items():
        if f"google_cloudfunctions2_function.{worker}." not in json.dumps(iam):
            continue
        members = [iam.get("member", ""), *iam.get("members", [])]
        assert not any(m in PUBLIC_MEMBERS for m in members), f"{key} makes the worker public"
        assert "policy_data" not in iam, f"{key}: use members, not a policy, on the worker"


def test_only_the_api_is_public(infra: Infra) -> None:
    api, _ = function(infra, "api")
    public = [
        (key, iam)
        for key, iam in iam_resources(infra).items()
        if iam.get("member") in PUBLIC_MEMBERS
        or any(m in PUBLIC_MEMBERS for m in iam.get("members", []))
    ]
    assert len(public) == 1, f"expected exactly the api to be public: {[k for k, _ in public]}"
    (_, iam) = public[0]
    assert iam["role"] == "roles/run.invoker"
    assert f"google_cloudfunctions2_function.{api}." in str(iam.get("name"))


def test_functions_run_python312_from_content_addressed_bundles(infra: Infra) -> None:
    for entry_point in ("api", "worker"):
        _, body = function(infra, entry_point)
        build = block(body, "build_config")
        assert build["runtime"] == "python312"
        source = block(block(build, "source"), "storage_source")
        assert "google_storage_bucket_object." in source["object"]
    for name, obj in infra.of_type("google_storage_bucket_object").items():
        assert "filemd5(" in obj["name"], f"{name}: object name must contain the zip's md5"


@pytest.mark.parametrize(("entry_point", "own"), [("api", API_ENV), ("worker", WORKER_ENV)])
def test_function_env_is_what_shared_config_reads(
    infra: Infra, config_names: set[str], entry_point: str, own: set[str]
) -> None:
    names = infra.env_names(env_of(infra, entry_point))
    assert names <= config_names, f"not read by shared/config.py: {names - config_names}"
    assert COMMON_ENV | own <= names, f"missing: {(COMMON_ENV | own) - names}"


@pytest.mark.parametrize("entry_point", ["api", "worker"])
def test_gunicorn_threads_match_the_request_concurrency(infra: Infra, entry_point: str) -> None:
    _, body = function(infra, entry_point)
    service = block(body, "service_config")
    concurrency = unwrap(str(service["max_instance_request_concurrency"]))
    assert concurrency == f"var.{entry_point}_concurrency"
    threads = infra.env_values(env_of(infra, entry_point))["THREADS"]
    assert threads == f"${{tostring({concurrency})}}"
    assert infra.variables[f"{entry_point}_concurrency"]["default"] >= 64
    # Cloud Run serves concurrent requests only with at least one whole vCPU.
    assert unwrap(str(service["available_cpu"])) == f"var.{entry_point}_cpu"
    cpu = infra.variables[f"{entry_point}_cpu"]
    assert float(cpu["default"]) >= 1
    assert "contains([" in cpu["validation"][0]["condition"]


def test_worker_never_gets_the_openai_key_itself(infra: Infra) -> None:
    names = infra.env_names(env_of(infra, "worker"))
    assert "OPENAI_API_KEY" not in names
    _, body = function(infra, "worker")
    secret_env = block(body, "service_config").get("secret_environment_variables", [])
    assert all(s.get("key") != "OPENAI_API_KEY" for s in secret_env)
    value = infra.env_values(env_of(infra, "worker"))["OPENAI_API_KEY_SECRET"]
    assert re.fullmatch(r"\$\{google_secret_manager_secret\.[\w-]+\.id\}/versions/latest", value)


def test_api_gets_no_llm_settings(infra: Infra) -> None:
    names = infra.env_names(env_of(infra, "api"))
    assert not {n for n in names if n.startswith("OPENAI_")}


def test_no_secret_value_in_terraform(infra: Infra) -> None:
    assert not infra.of_type("google_secret_manager_secret_version")
    assert not any("secret_data" in infra.text_of(b) for b in infra.resources.values())
    secrets = infra.of_type("google_secret_manager_secret")
    assert {name: s["secret_id"] for name, s in secrets.items()} == {
        "openai_api_key": "${var.openai_secret_id}",
        # One per fallback model with a key of its own (LLM_FALLBACKS).
        "fallback_keys": "${each.value}",
    }
    assert "var.llm_fallbacks" in secrets["fallback_keys"]["for_each"]


def test_only_the_worker_reads_the_secrets(infra: Infra) -> None:
    grants = infra.of_type("google_secret_manager_secret_iam_member")
    assert {g["member"] for g in grants.values()} == {
        "serviceAccount:${google_service_account.worker.email}"
    }
    assert {g["role"] for g in grants.values()} == {"roles/secretmanager.secretAccessor"}
    assert {name: g["secret_id"] for name, g in grants.items()} == {
        "worker_reads_openai_key": "${google_secret_manager_secret.openai_api_key.secret_id}",
        "worker_reads_fallback_keys": "${each.value.secret_id}",
    }
    fallback = grants["worker_reads_fallback_keys"]
    assert fallback["for_each"] == "${google_secret_manager_secret.fallback_keys}"
    for (rtype, name), body in infra.resources.items():
        if rtype.startswith("google_project_iam"):
            assert "secretmanager" not in infra.text_of(body), f"{rtype}.{name}"


# --- scheduler ---------------------------------------------------------------


def test_sweep_job_publishes_a_sweep_message_to_the_events_topic(infra: Infra) -> None:
    jobs = infra.of_type("google_cloud_scheduler_job")
    assert len(jobs) == 1
    target = block(next(iter(jobs.values())), "pubsub_target")
    events = topic(infra, "events_topic")
    assert target["topic_name"] == ref("google_pubsub_topic", events, "id")
    assert target["attributes"] == {"type": "sweep"}
    data = unwrap(target["data"])
    literal = re.fullmatch(r"base64encode\(jsonencode\(\{type\s*=\s*\"sweep\"\}\)\)", data)
    decoded = None if literal else json.loads(base64.b64decode(data))
    assert literal or decoded == {"type": "sweep"}, data


# --- Firestore ---------------------------------------------------------------


def test_runs_index_serves_the_sweep_query(infra: Infra) -> None:
    specs = index_specs(infra)
    assert ("runs", [("status", "ASCENDING"), ("watchdogAt", "ASCENDING")]) in specs


def test_checkpointed_outputs_are_not_indexed(infra: Infra) -> None:
    fields = infra.of_type("google_firestore_field")
    exempt = {
        (body["collection"], field)
        for body in fields.values()
        if "for_each" in body
        for field in infra.expand_for_each(body)
    } | {(body["collection"], body["field"]) for body in fields.values() if "for_each" not in body}
    assert ("runs", "steps") in exempt
    assert all(infra.text_of(body).count("index_config") == 1 for body in fields.values())


def test_llm_budget_breaker_and_admission_counters_expire_by_ttl(infra: Infra) -> None:
    fields = infra.of_type("google_firestore_field")
    ttl = [body for body in fields.values() if "ttl_config" in infra.text_of(body)]
    assert sorted((body["collection"], body["field"]) for body in ttl) == [
        (ADMISSION, "expireAt"),
        (BREAKERS, "expireAt"),
        (BUDGET, "expireAt"),
    ]


def test_firestore_is_native_mode(infra: Infra) -> None:
    dbs = infra.of_type("google_firestore_database")
    assert [db["type"] for db in dbs.values()] == ["FIRESTORE_NATIVE"]


# --- references and variables ------------------------------------------------


def test_every_variable_used_is_declared_and_every_declared_one_is_used(infra: Infra) -> None:
    strings = infra.all_strings(exclude_files=("variables.tf",))
    used = {m for s in strings for m in VAR_REF.findall(s)}
    declared = set(infra.variables)
    assert used - declared == set(), "used but not declared"
    assert declared - used == set(), "declared but never used"


def test_every_variable_has_a_type_description_and_validation(infra: Infra) -> None:
    for name, body in infra.variables.items():
        assert str(body.get("description", "")).strip(), f"var.{name} has no description"
        assert body.get("type"), f"var.{name} has no type"
        assert body.get("validation"), f"var.{name} has no validation"


def test_max_delivery_attempts_is_validated_between_5_and_100(infra: Infra) -> None:
    body = infra.variables["max_delivery_attempts"]
    assert body["default"] == 15
    condition = body["validation"][0]["condition"]
    assert ">= 5" in condition
    assert "<= 100" in condition


def test_every_resource_and_data_reference_resolves(infra: Infra) -> None:
    strings = infra.all_strings()
    resources = {f"{t}.{n}" for t, n in infra.resources}
    data = {f"{t}.{n}" for t, n in infra.data}
    refs = {f"{t}.{n}" for s in strings for t, n in RESOURCE_REF.findall(s)}
    data_refs = {f"{t}.{n}" for s in strings for t, n in DATA_REF.findall(s)}
    assert refs, "found no references at all: is the parsing broken?"
    assert refs - resources == set(), "references to undeclared resources"
    assert data_refs - data == set(), "references to undeclared data sources"
    locals_used = {m for s in strings for m in re.findall(r"(?<![\w.])local\.(\w+)", s)}
    assert locals_used - set(infra.locals) == set(), "references to undeclared locals"


def test_outputs(infra: Infra) -> None:
    api, _ = function(infra, "api")
    worker, _ = function(infra, "worker")
    assert infra.outputs["api_url"]["value"] == ref("google_cloudfunctions2_function", api, "url")
    assert f"google_cloudfunctions2_function.{worker}." in infra.outputs["worker_service"]["value"]
    for name in ("events_topic", "dead_letter_topic", "openai_secret_id"):
        assert name in infra.outputs
    for name, body in infra.outputs.items():
        assert body.get("description"), f"output {name} has no description"


# --- the checks above can fail ------------------------------------------------


def test_reference_check_catches_a_dangling_reference() -> None:
    broken = Infra.from_parsed(
        {
            "x.tf": parse_tf(
                'resource "google_pubsub_topic" "a" {\n  name = google_pubsub_topic.b.name\n}\n'
            )
        }
    )
    refs = {f"{t}.{n}" for s in broken.all_strings() for t, n in RESOURCE_REF.findall(s)}
    assert refs - {f"{t}.{n}" for t, n in broken.resources} == {"google_pubsub_topic.b"}


def test_env_name_collection_sees_merged_and_conditional_maps() -> None:
    infra = Infra.from_parsed(
        {
            "x.tf": parse_tf(
                "locals {\n  a = { ONE = var.x }\n  b = var.y == null ? {} : { TWO = var.y }\n}\n"
            )
        }
    )
    expr = "${merge(local.a, local.b, {THREE = 3})}"
    assert infra.env_names(expr) == {"ONE", "TWO", "THREE"}


def test_config_reader_finds_the_environment_names_of_fields() -> None:
    text = (
        'x: int = Field(1, validation_alias="ALPHA")\n'
        'y = Field(validation_alias= "BETA")\n'
        'z = e.get("GAMMA")\n'
    )
    assert config_env_names(text) == {"ALPHA", "BETA"}


def test_fallback_models_reach_the_worker_with_their_own_secret_versions(infra: Infra) -> None:
    names = infra.env_names(env_of(infra, "worker"))
    assert {"LLM_FALLBACKS", "LLM_BREAKER_FAILURES", "LLM_BREAKER_COOLDOWN_SECONDS"} <= names
    assert infra.variables["llm_fallbacks"]["default"] == []
    assert infra.variables["llm_breaker"]["default"] is None
    fallbacks = str(infra.local_value("llm_fallbacks_env"))
    # Unset means no failover: an empty list leaves the variable out.
    assert "length(var.llm_fallbacks) == 0 ? {}" in fallbacks
    # The names shared/config.py's FallbackModel reads, and a version of the
    # fallback's own secret (never a key).
    for field in ("model", "baseUrl", "apiKeySecret"):
        assert f"{field} = " in fallbacks
    assert (
        "google_secret_manager_secret.fallback_keys[f.secret_id].id}/versions/latest" in fallbacks
    )
    assert "apiKeyEnv" not in fallbacks
    _, worker = function(infra, "worker")
    assert "google_secret_manager_secret_iam_member.worker_reads_fallback_keys" in str(
        worker["depends_on"]
    )
