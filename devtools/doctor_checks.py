"""The checks `doctor` runs, local or on Google Cloud, and what they report.

Each check takes the `Target` (where the stack runs, with the fix to print
for each fault) and the `Clients` it reads with, and returns OK, FAIL with
the fix, or SKIP. `devtools.doctor` (the local stack and the command line)
and `devtools.doctor_cloud` (a deployment) build a target and run them;
this module imports neither, so the three form no cycle.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient
from pydantic import ValidationError

from devtools.provision import (
    MAX_BACKOFF_SECONDS,
    MIN_BACKOFF_SECONDS,
    parked_topic,
    push_endpoint,
    subscription_id,
)
from shared.adapters.firestore_heartbeat import SWEEP_HEARTBEAT
from shared.adapters.firestore_store import RUNS
from shared.config import FallbackModel, LLMSettings

Status = Literal["OK", "FAIL", "SKIP"]
HTTP_TIMEOUT = 10.0
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"
STUCK_LISTED = 20
# The push deliverer rewrites its status every second.
PUSH_STALE_SECONDS = 10.0
# Topic roles that allow publishing.
PUBLISHING_ROLES = ("roles/pubsub.publisher", "roles/pubsub.editor", "roles/pubsub.admin")


@dataclass(frozen=True)
class Result:
    check: str
    status: Status
    detail: str
    fix: str = ""

    def render(self) -> str:
        line = f"{self.status:<4}  {self.check}: {self.detail}"
        return f"{line}\n      fix: {self.fix}" if self.status == "FAIL" and self.fix else line


def ok(check: str, detail: str) -> Result:
    return Result(check, "OK", detail)


def fail(check: str, detail: str, fix: str) -> Result:
    return Result(check, "FAIL", detail, fix)


@dataclass(frozen=True)
class Fixes:
    """The fix for each kind of problem, in the words of where the stack runs."""

    pubsub: str
    worker: str
    api: str
    llm_key: str
    llm_url: str
    jwks: str
    sweep: str
    backlog: str


@dataclass(frozen=True)
class Target:
    """What the checks compare against, resolved for the local stack or a deployment."""

    where: Literal["local", "cloud"]
    project: str
    events_topic: str
    dead_letter_topic: str
    worker_url: str | None
    api_url: str | None
    fixes: Fixes
    results_topic: str | None = None
    # Trigger events from backends (`shared.triggers`): a topic and a worker subscription.
    triggers_topic: str | None = None
    # Cloud: the OIDC identity and audience the push subscriptions must carry.
    push_identity: str | None = None
    llm_key: str | None = field(default=None, repr=False)
    llm_key_secret: str | None = None
    llm_base_url: str | None = None
    # LLM_FALLBACKS as the worker reads it (apiKeyEnv already resolved), or why
    # it cannot be read.
    llm_fallbacks: tuple[FallbackModel, ...] = ()
    llm_fallbacks_problem: str | None = None
    jwks_url: str | None = None
    jwks_file: str | None = None
    sweep_max_age: timedelta = timedelta(minutes=3)
    redrive_after: timedelta = timedelta(seconds=120)
    # How long past a due time a run may wait for the sweep before it counts as stuck.
    grace: timedelta = timedelta(minutes=3)
    # Local: the status file of the deliverer that pushes the subscriptions
    # (`devtools.push`); None in Cloud, where Pub/Sub pushes itself.
    push_status: Path | None = None


@dataclass
class Clients:
    publisher: PublisherClient
    subscriber: SubscriberClient
    db: firestore.Client
    # Cloud only (None: the check does not apply, as on the emulators).
    iam_policy: Callable[[str], dict[str, Any]] | None = None  # of a topic or subscription
    read_secret: Callable[[str], str] | None = None
    dead_letter_backlog: Callable[[str], int | None] | None = None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)


# --- HTTP -------------------------------------------------------------------


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """Status and body of a GET; status 0 when nothing answered (the body says why)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except urllib.error.URLError as exc:
        reason = exc.reason if isinstance(exc.reason, Exception) else exc
        return 0, type(reason).__name__.encode()
    except (OSError, ValueError) as exc:
        return 0, type(exc).__name__.encode()


# --- Pub/Sub ----------------------------------------------------------------


def check_topics(target: Target, clients: Clients) -> list[Result]:
    results = []
    topics = (
        target.events_topic,
        target.dead_letter_topic,
        parked_topic(target.dead_letter_topic),
        target.results_topic,
        target.triggers_topic,
    )
    for topic in filter(None, topics):
        path = clients.publisher.topic_path(target.project, topic)
        try:
            clients.publisher.get_topic(topic=path)
            results.append(ok(f"topic {topic}", "exists"))
        except gexc.NotFound:
            results.append(fail(f"topic {topic}", "does not exist", target.fixes.pubsub))
    return results


def _subscription_problems(
    target: Target, sub: Any, topic: str, dead_letter: str | None
) -> list[str]:
    project = target.project
    problems = []
    if sub.topic != PublisherClient.topic_path(project, topic):
        problems.append(f"its topic is {sub.topic}, not {topic}")
    endpoint = sub.push_config.push_endpoint
    if target.push_status is not None:
        # Locally `devtools.push` delivers a pull subscription (the emulator's
        # own push sends one message at a time).
        if endpoint:
            problems.append(
                f"the emulator pushes it to {endpoint} (one message at a time); "
                "locally it must be a pull subscription that `devtools.push` delivers"
            )
    elif target.worker_url is None:
        problems.append("the worker's URL is unknown")
    else:
        expected = push_endpoint(target.worker_url, project, topic)
        if endpoint != expected:
            problems.append(
                f"pushes to {endpoint or '(nothing: a pull subscription)'}, not {expected}"
            )
    if target.push_identity is not None:
        oidc = sub.push_config.oidc_token
        if oidc.service_account_email != target.push_identity:
            problems.append(
                f"OIDC identity is {oidc.service_account_email or '(none)'}, "
                f"not {target.push_identity}"
            )
        if target.worker_url and oidc.audience != target.worker_url:
            problems.append(
                f"OIDC audience is {oidc.audience or '(none)'}, not {target.worker_url}"
            )
    retry = sub.retry_policy
    backoff = (retry.minimum_backoff.seconds, retry.maximum_backoff.seconds)
    if backoff != (MIN_BACKOFF_SECONDS, MAX_BACKOFF_SECONDS):
        problems.append(
            f"retry backoff is {backoff[0]}-{backoff[1]} s, "
            f"not {MIN_BACKOFF_SECONDS}-{MAX_BACKOFF_SECONDS} s"
        )
    policy = sub.dead_letter_policy
    if dead_letter is None:
        if policy.dead_letter_topic:
            problems.append(f"dead-letters to {policy.dead_letter_topic}: nothing should")
    elif policy.dead_letter_topic != PublisherClient.topic_path(project, dead_letter):
        problems.append(
            f"dead-letters to {policy.dead_letter_topic or '(nothing)'}, not {dead_letter}"
        )
    elif not 5 <= policy.max_delivery_attempts <= 100:
        problems.append(f"max delivery attempts {policy.max_delivery_attempts} (5-100)")
    return problems


def check_subscriptions(target: Target, clients: Clients) -> list[Result]:
    results = []
    for topic, dead_letter in _worker_subscriptions(target):
        name = subscription_id(topic)
        check = f"subscription {name}"
        path = clients.subscriber.subscription_path(target.project, name)
        try:
            sub = clients.subscriber.get_subscription(subscription=path)
        except gexc.NotFound:
            results.append(fail(check, "does not exist", target.fixes.pubsub))
            continue
        problems = _subscription_problems(target, sub, topic, dead_letter)
        if problems:
            results.append(fail(check, "; ".join(problems), target.fixes.pubsub))
        else:
            what = "push to the worker" if target.push_status is None else "pulled by the push"
            what += ", retry policy"
            what += ", dead-letter policy" if dead_letter else ""
            what += ", OIDC identity" if target.push_identity else ""
            results.append(ok(check, what))
    return results


def _worker_subscriptions(target: Target) -> list[tuple[str, str]]:
    """(topic, the dead-letter topic its worker subscription must use) for each subscription.

    What the worker cannot fail either is parked, never retried for good.
    """
    found = [
        (target.events_topic, target.dead_letter_topic),
        (target.dead_letter_topic, parked_topic(target.dead_letter_topic)),
    ]
    if target.triggers_topic:
        found.append((target.triggers_topic, target.dead_letter_topic))
    return found


def _is_pubsub_agent(member: str) -> bool:
    name = member.removeprefix("serviceAccount:")
    return (
        member.startswith("serviceAccount:service-")
        and name.endswith("@gcp-sa-pubsub.iam.gserviceaccount.com")
        and name.removeprefix("service-").split("@")[0].isdigit()
    )


def _agent_has(policy: dict[str, Any], role: str) -> bool:
    return any(
        binding.get("role") == role and any(_is_pubsub_agent(m) for m in binding.get("members", []))
        for binding in policy.get("bindings", [])
    )


def check_dead_letter_permission(target: Target, clients: Clients) -> Result:
    """Dead-lettering needs the Pub/Sub service agent to publish to each dead-letter topic
    (the dead-letter topic, and the parked one) and to acknowledge on each source
    subscription; without either, messages are retried for as long as they are kept."""
    check = "Pub/Sub may dead-letter"
    if clients.iam_policy is None:
        return Result(check, "SKIP", "the emulator has no IAM")
    needed = []
    for source, target_topic in _worker_subscriptions(target):
        topic = PublisherClient.topic_path(target.project, target_topic)
        subscription = SubscriberClient.subscription_path(target.project, subscription_id(source))
        needed += [
            (topic, "roles/pubsub.publisher", f"publish to {target_topic}"),
            (subscription, "roles/pubsub.subscriber", f"acknowledge on {subscription_id(source)}"),
        ]
    needed = list(dict.fromkeys(needed))  # the events and triggers share a dead-letter topic
    missing = []
    for resource, role, what in needed:
        try:
            policy = clients.iam_policy(resource)
        except gexc.GoogleAPICallError as exc:
            detail = f"cannot read the IAM policy of {resource} ({exc.code})"
            return fail(check, detail, target.fixes.pubsub)
        if not _agent_has(policy, role):
            missing.append(what)
    if missing:
        detail = "the Pub/Sub service agent may not " + " nor ".join(missing)
        return fail(
            check,
            f"{detail}: dead-lettered runs would be retried, never failed",
            target.fixes.pubsub,
        )
    return ok(check, "the Pub/Sub service agent may " + " and ".join(w for _, _, w in needed))


def check_trigger_publishers(target: Target, clients: Clients) -> Result:
    """Who may publish trigger events: each of them starts runs for any tenant it names."""
    check = "who may publish triggers"
    if target.triggers_topic is None:
        return Result(check, "SKIP", "no triggers topic")
    if clients.iam_policy is None:
        return Result(check, "SKIP", "the emulator has no IAM")
    topic = PublisherClient.topic_path(target.project, target.triggers_topic)
    try:
        policy = clients.iam_policy(topic)
    except gexc.GoogleAPICallError as exc:
        detail = f"cannot read the IAM policy of {topic} ({exc.code})"
        return fail(check, detail, target.fixes.pubsub)
    members = sorted(
        {
            member
            for binding in policy.get("bindings", [])
            if binding.get("role") in PUBLISHING_ROLES
            for member in binding.get("members", [])
        }
    )
    public = [m for m in members if m in ("allUsers", "allAuthenticatedUsers")]
    if public:
        return fail(
            check,
            f"{', '.join(public)} may publish to {target.triggers_topic}: anyone could start "
            "runs for any tenant",
            "remove them from the topic's IAM policy; list the publishers in Terraform's "
            "trigger_publishers",
        )
    if not members:
        return ok(check, f"nobody may publish to {target.triggers_topic} on the topic itself")
    return ok(
        check,
        f"{', '.join(members)} on the topic (each may start runs for any tenant it names; "
        "project-level Pub/Sub publishers may too)",
    )


def check_backlog(target: Target, clients: Clients) -> Result:
    check = "dead-letter backlog"
    if clients.dead_letter_backlog is None:
        return Result(check, "SKIP", "the emulator keeps no metrics")
    name = subscription_id(target.dead_letter_topic)
    backlog = clients.dead_letter_backlog(name)
    if backlog:
        return fail(check, f"{backlog} messages undelivered on {name}", target.fixes.backlog)
    return ok(check, f"nothing waiting on {name}")  # None: no messages in the metric's window


def check_push(target: Target) -> Result:
    """Locally, something must deliver the subscriptions to the worker: `devtools.push`."""
    check = "push to the worker"
    assert target.push_status is not None
    status = _read_json(target.push_status)
    fix = target.fixes.pubsub
    if status is None:
        return fail(check, "nothing delivers the subscriptions (no `devtools.push` running)", fix)
    age = time.time() - float(status.get("updatedAt") or 0)
    if age > PUSH_STALE_SECONDS or not _process_alive(int(status.get("pid") or 0)):
        return fail(check, f"the push deliverer stopped ({age:.0f} s since it last wrote)", fix)
    routes = {r.get("subscription"): r for r in status.get("subscriptions") or []}
    wanted = [
        SubscriberClient.subscription_path(target.project, subscription_id(topic))
        for topic, _ in _worker_subscriptions(target)
    ]
    problems = [f"it does not deliver {name}" for name in wanted if name not in routes]
    if status.get("workerUrl") != target.worker_url:
        problems.append(f"it pushes to {status.get('workerUrl')}, not {target.worker_url}")
    if problems:
        return fail(check, "; ".join(problems), fix)
    events = routes[wanted[0]]
    return ok(
        check,
        f"devtools.push delivers to {target.worker_url} (events: window {events.get('window')}, "
        f"{events.get('inFlight')} in flight, {events.get('delivered')} delivered, "
        f"{events.get('failed')} failed)",
    )


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- the functions ------------------------------------------------------------


def _answers(check: str, url: str | None, fix: str, good: Callable[[int], bool]) -> Result:
    if url is None:
        return fail(check, "its URL is unknown", fix)
    status, body = http_get(url)
    if status == 0:
        return fail(check, f"nothing answers at {url} ({body.decode()})", fix)
    if not good(status):
        return fail(check, f"{url} answers HTTP {status}", fix)
    return ok(check, f"{url} (HTTP {status})")


def check_worker(target: Target) -> Result:
    # A GET is not a CloudEvent: functions-framework answers 405, Cloud Run 403
    # without a token. Either way the worker is there; 404 means it is not.
    return _answers(
        "worker answers", target.worker_url, target.fixes.worker, lambda s: s != 404 and s < 500
    )


def check_api(target: Target) -> Result:
    url = f"{target.api_url.rstrip('/')}/healthz" if target.api_url else None
    return _answers("api /healthz", url, target.fixes.api, lambda s: s == 200)


def _primary_key(target: Target, read_secret: Callable[[str], str] | None) -> str | None:
    """The primary's key (read from Secret Manager if named so); raises what the read raised."""
    if target.llm_key is None and target.llm_key_secret:
        if read_secret is None:
            raise RuntimeError("no Secret Manager access")
        return read_secret(target.llm_key_secret)
    return target.llm_key


def check_llm(target: Target, read_secret: Callable[[str], str] | None) -> Result:
    check = "LLM provider"
    try:
        key = _primary_key(target, read_secret)
    except Exception as exc:  # the adapter's messages name the secret, never a value
        return fail(check, str(exc), target.fixes.llm_key)
    if key is None and target.llm_base_url is None:
        if target.where == "local":
            return Result(check, "SKIP", "no key configured: the offline placeholder model")
        return fail(
            check, "neither a key secret nor a base URL is configured", target.fixes.llm_key
        )
    return _models_answer(
        check, target.llm_base_url, key, target.fixes.llm_key, target.fixes.llm_url
    )


def _models_answer(
    check: str,
    base_url: str | None,
    key: str | None,
    fix_key: str,
    fix_url: str,
    model: str | None = None,
) -> Result:
    """GET <base>/models with the key: it answers, accepts the key (and lists `model`)."""
    base = (base_url or OPENAI_DEFAULT_URL).rstrip("/")
    where = f"{base}/models"
    status, body = http_get(where, {"Authorization": f"Bearer {key}"} if key else None)
    if status in (401, 403):
        return fail(check, f"{where} refuses the key (HTTP {status})", fix_key)
    if status != 200:
        shown = body.decode() if status == 0 else f"HTTP {status}"
        return fail(check, f"{where} answers {shown}", fix_url)
    source = "the key" if key else "no key"
    if model is None:
        return ok(check, f"{where} accepts {source} (models listed)")
    try:
        listed = {str(m.get("id")) for m in json.loads(body).get("data") or []}
    except (ValueError, AttributeError):
        listed = set()
    if model not in listed:
        return fail(check, f"{where} accepts {source} but does not list {model!r}", fix_url)
    return ok(check, f"{where} accepts {source} and lists {model!r}")


def check_fallbacks(target: Target, read_secret: Callable[[str], str] | None) -> list[Result]:
    """Each model of LLM_FALLBACKS: its endpoint answers, accepts its key and serves the model.

    A fallback is only called while the primary fails, so a broken one would
    otherwise be found in the middle of an outage.
    """
    if target.llm_fallbacks_problem is not None:
        return [fail("LLM_FALLBACKS", target.llm_fallbacks_problem, _fallback_fix(target, None))]
    results = []
    for number, fallback in enumerate(target.llm_fallbacks, start=1):
        check = f"LLM fallback {number} ({fallback.model})"
        fix = _fallback_fix(target, fallback)
        try:
            if fallback.api_key is not None:
                key: str | None = fallback.api_key
            elif fallback.api_key_secret is not None:
                if read_secret is None:
                    results.append(fail(check, "no Secret Manager access", fix))
                    continue
                key = read_secret(fallback.api_key_secret)
            else:
                key = _primary_key(target, read_secret)
        except Exception as exc:  # the adapter's messages name the secret, never a value
            results.append(fail(check, str(exc), fix))
            continue
        base_url = fallback.base_url or target.llm_base_url
        results.append(_models_answer(check, base_url, key, fix, fix, fallback.model))
    return results


def _fallback_fix(target: Target, fallback: FallbackModel | None) -> str:
    if target.where == "local":
        return (
            "fix LLM_FALLBACKS: each entry's baseUrl must answer, serve its model and accept "
            "its key (apiKeyEnv's variable, apiKeySecret's version, or else the primary's)"
        )
    secret = fallback.api_key_secret if fallback is not None else None
    if secret:
        return (
            "add a valid key as a new version of the fallback's secret (nothing echoed): "
            f'`read -rs KEY && printf %s "$KEY" | gcloud secrets versions add '
            f"{secret.split('/')[3]} --data-file=-`; or fix the Terraform variable llm_fallbacks"
        )
    return "fix the Terraform variable llm_fallbacks (model, base_url, secret_id), then apply"


def read_fallbacks(
    raw: str | None, env: Mapping[str, str]
) -> tuple[tuple[FallbackModel, ...], str | None]:
    """LLM_FALLBACKS as shared/config.py reads it (apiKeyEnv resolved from `env`), or a problem."""
    if not raw:
        return (), None
    try:
        fallbacks = LLMSettings.model_validate({"LLM_FALLBACKS": raw}).fallbacks
    except ValidationError as error:
        return (), "; ".join(str(e["msg"]) for e in error.errors())
    resolved = []
    for fallback in fallbacks:
        if fallback.api_key_env is not None:
            value = (env.get(fallback.api_key_env) or "").strip()
            if not value:
                return (), f"{fallback.model}: variable {fallback.api_key_env} is not set"
            fallback = fallback.model_copy(update={"api_key": value})
        resolved.append(fallback)
    return tuple(resolved), None


def check_jwks(target: Target) -> Result:
    check = "JWKS"
    if target.jwks_url:
        status, body = http_get(target.jwks_url)
        source = target.jwks_url
        if status != 200:
            shown = body.decode() if status == 0 else f"HTTP {status}"
            return fail(check, f"{source} answers {shown}", target.fixes.jwks)
    elif target.jwks_file:
        source = target.jwks_file
        try:
            with open(source, "rb") as handle:
                body = handle.read()
        except OSError as exc:
            return fail(check, f"cannot read {source} ({type(exc).__name__})", target.fixes.jwks)
    else:
        return fail(check, "no JWKS URL configured", target.fixes.jwks)
    try:
        keys = json.loads(body).get("keys")
    except (ValueError, AttributeError):
        keys = None
    if not isinstance(keys, list) or not keys:
        return fail(check, f"{source} holds no keys", target.fixes.jwks)
    return ok(check, f"{source} holds {len(keys)} key(s)")


# --- the runs ---------------------------------------------------------------


def check_sweep(target: Target, clients: Clients) -> Result:
    check = "sweep ran recently"
    snapshot = clients.db.document(SWEEP_HEARTBEAT).get()
    data = snapshot.to_dict() if snapshot.exists else None
    last = (data or {}).get("lastSweepAt")
    if not isinstance(last, datetime):
        return fail(check, "the sweep has never run", target.fixes.sweep)
    age = clients.now() - last
    if age > target.sweep_max_age:
        return fail(
            check,
            f"last ran {age.total_seconds():.0f} s ago (more than "
            f"{target.sweep_max_age.total_seconds():.0f} s)",
            target.fixes.sweep,
        )
    return ok(check, f"{age.total_seconds():.0f} s ago")


def _why_stuck(run: dict[str, Any], now: datetime, target: Target) -> str | None:
    late = now - target.grace
    deadline = run.get("deadlineAt")
    if isinstance(deadline, datetime) and deadline < late:
        return "past its deadline"
    if run.get("status") == "RUNNING":
        lease = run.get("leaseExpiresAt")
        if isinstance(lease, datetime) and lease < late:
            return "RUNNING with an expired lease"
    if run.get("status") == "WAITING":
        # Parked on purpose until its wait's timeout (days, for a review);
        # only a wait the sweep has not ended after it is stuck.
        wait = run.get("wait") or {}
        timeout = wait.get("timeoutAt") if isinstance(wait, dict) else None
        if isinstance(timeout, datetime) and timeout < late:
            return "WAITING past its wait's timeout"
        return None
    if run.get("status") == "QUEUED":
        resumes = run.get("resumes") or []
        since = resumes[-1].get("at") if resumes else run.get("createdAt")
        if isinstance(since, datetime) and since + target.redrive_after < late:
            return "QUEUED past the redrive time"
    return None


def stuck_runs(target: Target, clients: Clients) -> list[tuple[str, str]]:
    """(runId, why) of unfinished runs the sweep should have acted on by now."""
    now = clients.now()
    query = (
        clients.db.collection(RUNS)
        .where(filter=firestore.FieldFilter("status", "in", ["QUEUED", "RUNNING", "WAITING"]))
        .select(["status", "createdAt", "deadlineAt", "leaseExpiresAt", "resumes", "wait"])
    )
    found = []
    for snapshot in query.stream():
        why = _why_stuck(snapshot.to_dict() or {}, now, target)
        if why:
            found.append((snapshot.id, why))
    return sorted(found)


def check_stuck(target: Target, clients: Clients) -> Result:
    check = "stuck runs"
    found = stuck_runs(target, clients)
    if not found:
        return ok(check, "none")
    listed = ", ".join(f"{run_id} ({why})" for run_id, why in found[:STUCK_LISTED])
    more = f" and {len(found) - STUCK_LISTED} more" if len(found) > STUCK_LISTED else ""
    return fail(
        check,
        f"{len(found)}: {listed}{more}",
        "the sweep should have re-driven or failed these: fix the sweep check first; "
        "inspect one with GET /v1/runs/<runId>; end it with POST /v1/runs/<runId>/cancel",
    )


def run_checks(target: Target, clients: Clients) -> list[Result]:
    return [
        *check_topics(target, clients),
        *check_subscriptions(target, clients),
        *([check_push(target)] if target.push_status is not None else []),
        check_dead_letter_permission(target, clients),
        check_trigger_publishers(target, clients),
        check_worker(target),
        check_api(target),
        check_llm(target, clients.read_secret),
        *check_fallbacks(target, clients.read_secret),
        check_jwks(target),
        check_sweep(target, clients),
        check_stuck(target, clients),
        check_backlog(target, clients),
    ]


def report(results: Iterable[Result], out: Any = None) -> int:
    out = out or sys.stdout
    failed = 0
    for result in results:
        print(result.render(), file=out)
        failed += result.status == "FAIL"
    print(f"\n{failed} check(s) failed" if failed else "\nall checks passed", file=out)
    return 1 if failed else 0
