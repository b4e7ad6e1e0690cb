"""Results topic, log-based metrics, alerts and the dashboard in infra/, against what the code logs.

A log-based metric that filters on a message nobody logs, or on a field no
log line carries, silently counts nothing: these tests tie each metric to the
log calls in shared/ and the fields shared/logs.py writes.
"""

from __future__ import annotations

import ast
import re

import pytest

from devtools import REPO_ROOT
from tests.helpers.infra_support import Infra, block, env_of, function

LOGS_PY = REPO_ROOT / "shared" / "logs.py"
# Keys every line carries (shared/logs.py JsonFormatter) besides its extra fields.
# Written by the formatter on every line of a run (from its context), not via _FIELDS.
ALWAYS_LOGGED = {"message", "severity", "runId", "step", "workflow", "errorType", "errorMessage"}

MESSAGE = re.compile(r'jsonPayload\.message\s*(=~?)\s*\\?"\^?([^"\\]+)')
FIELD = re.compile(r"jsonPayload\.([A-Za-z_]\w*)")


@pytest.fixture(scope="module")
def infra() -> Infra:
    return Infra.load()


def logged_fields() -> set[str]:
    tree = ast.parse(LOGS_PY.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "_FIELDS" for t in node.targets
        ):
            return {str(field) for field in ast.literal_eval(node.value)}
    raise AssertionError("shared/logs.py has no _FIELDS tuple")


def logged_messages() -> list[str]:
    """The first argument of every log call in shared/ (format strings included).

    A message held in a module-level constant (`MALFORMED = "..."`, which
    tests also import) counts as its text.
    """
    messages = []
    for path in (REPO_ROOT / "shared").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("debug", "info", "warning", "error", "exception")
                and node.args
            ):
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                messages.append(first.value)
            elif isinstance(first, ast.Name) and first.id in constants:
                messages.append(constants[first.id])
    return messages


def metric_texts(infra: Infra) -> dict[str, str]:
    """Each log-based metric's filter and extractors, locals inlined."""
    texts = {}
    for name, body in infra.of_type("google_logging_metric").items():
        parts = [infra.resolve(str(body["filter"])), str(body.get("value_extractor", ""))]
        parts += [str(v) for v in (body.get("label_extractors") or {}).values()]
        text = "\n".join(parts)
        for local in re.findall(r"local\.(\w+)", text):
            value = infra.local_value(local)
            text += "\n" + (value if isinstance(value, str) else str(value))
        texts[name] = text
    return texts


# --- results topic ----------------------------------------------------------------


def test_results_topic_is_created_and_both_functions_may_publish_to_it(infra: Infra) -> None:
    name, _ = infra.one("google_pubsub_topic", name="${var.results_topic}")
    assert infra.variables["results_topic"]["default"] == "generation-results"
    grants = [
        body
        for body in infra.of_type("google_pubsub_topic_iam_member").values()
        if body["topic"] == f"${{google_pubsub_topic.{name}.name}}"
    ]
    assert len(grants) == 1
    assert grants[0]["role"] == "roles/pubsub.publisher"
    members = infra.text_of(grants[0])
    assert "google_service_account.api.email" in members
    assert "google_service_account.worker.email" in members
    for entry_point in ("api", "worker"):
        values = infra.env_values(env_of(infra, entry_point))
        assert values["RESULTS_TOPIC"] == f"${{google_pubsub_topic.{name}.name}}"


def test_flow_control_and_price_settings_reach_the_worker(infra: Infra) -> None:
    names = infra.env_names(env_of(infra, "worker"))
    expected = {"TENANT_MAX_ACTIVE_RUNS", "LLM_REQUESTS_PER_MINUTE", "LLM_TOKENS_PER_MINUTE"}
    assert expected | {"LLM_PRICES"} <= names
    assert infra.variables["tenant_max_active_runs"]["default"] == 5
    for limit in ("llm_requests_per_minute", "llm_tokens_per_minute"):
        # Unset means unlimited: the variable's null must leave the env var out.
        assert infra.variables[limit]["default"] is None
        assert f"var.{limit} == null ? {{}}" in str(infra.local_value("llm_budget_env"))
    assert "jsonencode(var.llm_prices)" in str(infra.local_value("llm_prices_env"))


# --- log-based metrics --------------------------------------------------------------


def test_metrics_count_the_worker_lines_only(infra: Infra) -> None:
    worker, _ = function(infra, "worker")
    for name, body in infra.of_type("google_logging_metric").items():
        text = infra.resolve(str(body["filter"]))
        assert 'resource.type=\\"cloud_run_revision\\"' in text or "cloud_run_revision" in text
        assert f"google_cloudfunctions2_function.{worker}.name" in text, name


def unlogged_messages(texts: dict[str, str], messages: list[str]) -> list[str]:
    """Messages a metric matches (exactly, or as a regex prefix) that no log call writes."""
    missing = []
    for name, text in texts.items():
        for operator, wanted in MESSAGE.findall(text):
            # A prefix match ("run failed by the sweep: deadline exceeded")
            # is satisfied by a format string ("run failed by the sweep: %s").
            prefix = wanted.split("%")[0]
            found = (
                wanted in messages
                if operator == "="
                else any(
                    wanted.startswith(m.split("%")[0]) or m.startswith(prefix) for m in messages
                )
            )
            if not found:
                missing.append(f"{name}: {wanted}")
    return missing


def test_every_message_a_metric_matches_is_logged_by_the_code(infra: Infra) -> None:
    messages = logged_messages()
    assert "run finished" in messages, "could not read the log calls of shared/"
    texts = metric_texts(infra)
    assert sum(len(MESSAGE.findall(t)) for t in texts.values()) >= 6
    assert unlogged_messages(texts, messages) == []


def test_the_message_check_catches_a_message_nobody_logs() -> None:
    texts = {"x": 'jsonPayload.message=\\"run exploded\\"'}
    assert unlogged_messages(texts, ["run finished", "run failed by the sweep: %s"]) == [
        "x: run exploded"
    ]


def test_the_metrics_cover_failures_dead_letters_deadlines_durations_and_tokens(
    infra: Infra,
) -> None:
    texts = metric_texts(infra)
    assert set(texts) >= {
        "runs_finished",
        "runs_failed",
        "runs_dead_lettered",
        "runs_past_deadline",
        "step_duration",
        "llm_tokens",
    }
    assert 'jsonPayload.status=\\"FAILED\\"' in texts["runs_failed"]
    assert "EXTRACT(jsonPayload.durationMs)" in texts["step_duration"]
    assert "EXTRACT(jsonPayload.totalTokens)" in texts["llm_tokens"]
    failed = infra.of_type("google_logging_metric")["runs_failed"]
    assert {"workflow", "reason"} <= set(failed["label_extractors"])


def test_metric_fields_are_logged(infra: Infra) -> None:
    emitted = logged_fields() | ALWAYS_LOGGED
    used = {f for text in metric_texts(infra).values() for f in FIELD.findall(text)}
    assert used - emitted == set(), "fields no log line carries"


# --- alerts and dashboard -------------------------------------------------------------


def test_alerts_notify_the_email_channels(infra: Infra) -> None:
    channels = infra.of_type("google_monitoring_notification_channel")
    assert [c["type"] for c in channels.values()] == ["email"]
    assert "var.alert_emails" in str(next(iter(channels.values()))["for_each"])
    policies = infra.of_type("google_monitoring_alert_policy")
    assert policies, "no alert policy"
    for name, policy in policies.items():
        assert policy["notification_channels"] == "${local.notification_channels}", name
        assert block(policy, "documentation")["content"], name
    alerted = str(infra.local_value("count_alerts"))
    for metric in ("runs_failed", "runs_dead_lettered", "runs_past_deadline"):
        assert f"google_logging_metric.{metric}.name" in alerted


def test_dashboard_shows_status_failures_step_percentiles_and_tokens(infra: Infra) -> None:
    (dashboard,) = infra.of_type("google_monitoring_dashboard").values()
    text = infra.text_of(dashboard) + str(infra.local_value("dashboard_filter"))
    text += str(infra.local_value("step_percentiles"))
    for wanted in (
        "runs_finished.name",
        "runs_failed.name",
        "step_duration.name",
        "llm_tokens.name",
        "REDUCE_PERCENTILE_50",
        "REDUCE_PERCENTILE_95",
        "metric.label.status",
    ):
        assert wanted in text, wanted


def test_monitoring_api_is_enabled(infra: Infra) -> None:
    assert "monitoring.googleapis.com" in infra.local_value("required_apis")


def test_running_on_fallback_is_counted_by_model_and_alerted(infra: Infra) -> None:
    texts = metric_texts(infra)
    fallback = texts["llm_fallback_answers"]
    assert 'jsonPayload.message="running on fallback"' in fallback
    assert "EXTRACT(jsonPayload.model)" in fallback
    assert "EXTRACT(jsonPayload.fallbackFrom)" in fallback
    assert 'jsonPayload.message="model breaker opened"' in texts["llm_breaker_opened"]
    alerts = infra.local_value("count_alerts")
    alert = alerts["running_on_fallback"]
    assert alert["metric"] == "${google_logging_metric.llm_fallback_answers.name}"
    assert alert["threshold"] == 0


def test_malformed_deliveries_are_counted_by_topic_and_alerted(infra: Infra) -> None:
    from shared.worker import MALFORMED

    malformed = metric_texts(infra)["deliveries_malformed"]
    assert f'jsonPayload.message="{MALFORMED}"' in malformed
    assert "EXTRACT(jsonPayload.topic)" in malformed
    alert = infra.local_value("count_alerts")["deliveries_malformed"]
    assert alert["metric"] == "${google_logging_metric.deliveries_malformed.name}"
    assert alert["threshold"] == 0
    assert "jsonPayload.problem" in alert["doc"]


def test_a_parked_dead_letter_is_alerted_from_its_subscriptions_backlog(infra: Infra) -> None:
    policy = infra.of_type("google_monitoring_alert_policy")["parked"]
    condition = block(block(policy, "conditions"), "condition_threshold")
    text = infra.resolve(str(condition["filter"]))
    assert "pubsub.googleapis.com/subscription/num_undelivered_messages" in text
    assert "google_pubsub_subscription.parked.name" in text
    assert condition["threshold_value"] == 0
    assert policy["notification_channels"] == "${local.notification_channels}"
    assert "docs/operations.md" in block(policy, "documentation")["content"]
