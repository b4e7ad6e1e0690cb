"""What is misconfigured or stuck, and the command that fixes it.

`make doctor` checks the local stack of `make dev` (or of its pieces) on the
ports and names the environment gives; `python -m devtools.doctor --project P
--region R` checks a deployment with Application Default Credentials, reading
the deployed functions' own configuration. Every check prints OK, FAIL (with
the fix: a command to run or a Terraform variable to set) or SKIP (does not
apply here); any FAIL makes the exit status 1. No secret is ever printed:
keys are sent to their provider and nowhere else, and answers are reported by
status code, never by body (a provider may echo the key back).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import timedelta

from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient

from devtools.doctor_checks import (
    Clients,
    Fixes,
    Result,
    Target,
    check_api,
    check_fallbacks,
    check_jwks,
    check_llm,
    check_worker,
    fail,
    http_get,
    read_fallbacks,
    report,
    run_checks,
)

# --- where the stack runs -----------------------------------------------------


def local_target(env: dict[str, str]) -> Target:
    """The stack of `make dev`, from the environment its pieces get."""
    from devtools.local_config import LocalConfig
    from devtools.push import status_path

    config = LocalConfig.from_env(env)
    sweep = config.sweep_seconds if config.sweep_seconds > 0 else 15.0
    fixes = Fixes(
        pubsub="restart `make emulators` (or `make dev`): it provisions topics and subscriptions "
        "as infra/pubsub.tf does and pushes them to the worker (`devtools.push`)",
        worker=f"start the worker: `make worker` (it listens on WORKER_PORT, {config.worker_url})",
        api="start the api: `make api` (it listens on API_PORT)",
        llm_key="set OPENAI_API_KEY to a key the provider accepts, or unset it for the offline "
        "placeholder model",
        llm_url="set OPENAI_BASE_URL to an OpenAI-compatible server that is running",
        jwks="set AUTH_JWKS_URL (or AUTH_JWKS_FILE) to your issuer's keys; `make dev` uses "
        ".dev/jwks.json",
        sweep="`make emulators` (or `make dev`) publishes the sweep tick: run it with "
        "SWEEP_SECONDS > 0, and check the worker answers",
        backlog="see the worker's log for why dead-lettered messages fail",
    )
    fallbacks, fallbacks_problem = read_fallbacks(env.get("LLM_FALLBACKS"), env)
    return Target(
        where="local",
        project=config.project,
        events_topic=config.events_topic,
        dead_letter_topic=config.dead_letter_topic,
        results_topic=config.results_topic,
        triggers_topic=config.triggers_topic,
        worker_url=config.worker_url,
        api_url=f"http://127.0.0.1:{env.get('API_PORT') or 8080}",
        fixes=fixes,
        llm_key=env.get("OPENAI_API_KEY") or None,
        llm_key_secret=env.get("OPENAI_API_KEY_SECRET") or None,
        llm_base_url=env.get("OPENAI_BASE_URL") or None,
        llm_fallbacks=fallbacks,
        llm_fallbacks_problem=fallbacks_problem,
        jwks_url=env.get("AUTH_JWKS_URL") or None,
        jwks_file=env.get("AUTH_JWKS_FILE") or None,
        sweep_max_age=timedelta(seconds=3 * sweep + 5),
        redrive_after=timedelta(seconds=float(env.get("REDRIVE_AFTER_SECONDS") or 120)),
        grace=timedelta(seconds=3 * sweep + 5),
        push_status=status_path(config.pubsub_host),
    )


def local_clients(target: Target, database: str) -> Clients:
    from shared.adapters.firestore_store import client_for

    return Clients(
        publisher=PublisherClient(),
        subscriber=SubscriberClient(),
        db=client_for(target.project, database),
    )


def check_local(env: dict[str, str]) -> list[Result]:
    """`make doctor`: without the emulators only the checks that do not need them run."""
    target = local_target(env)
    hosts = {name: env[name] for name in ("FIRESTORE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST")}
    down = [host for host in hosts.values() if http_get(f"http://{host}/")[0] != 200]
    if down:
        return [
            fail(
                "emulators",
                f"nothing answers at {', '.join(down)}",
                "start them: `make emulators` (or `make dev`) with the same "
                "FIRESTORE_EMULATOR_HOST / PUBSUB_EMULATOR_HOST",
            ),
            check_worker(target),
            check_api(target),
            check_llm(target, None),
            *check_fallbacks(target, None),
            check_jwks(target),
        ]
    os.environ.update(hosts)  # the Google clients find the emulators there
    clients = local_clients(target, env.get("FIRESTORE_DATABASE") or "(default)")
    return run_checks(target, clients)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--project", help="a deployed project (Cloud); without it: the local stack")
    parser.add_argument("--region", help="the deployment's region (with --project)")
    parser.add_argument(
        "--sweep-max-age",
        type=float,
        default=180.0,
        help="Cloud: seconds since the last sweep that are still healthy (3 ticks of the "
        "default sweep_schedule; raise it with a slower schedule)",
    )
    args = parser.parse_args(argv)
    if args.project:
        if not args.region:
            parser.error("--region is needed with --project")
        from devtools.doctor_cloud import cloud_checks

        return report(
            cloud_checks(
                args.project, args.region, sweep_max_age=timedelta(seconds=args.sweep_max_age)
            )
        )
    from devtools.dev import local_env

    return report(check_local(local_env()))


if __name__ == "__main__":
    sys.exit(main())
