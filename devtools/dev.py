"""The local stack: `make dev` and two of its pieces (`make api`, `make worker`).

`dev` starts the local cloud of `make emulators` (both emulators, topics and
subscriptions delivered to the local worker as Cloud's push delivers them
(`devtools.push`), the sweep tick every SWEEP_SECONDS, as Cloud Scheduler
does in production) and runs the api (API_PORT, 8080) and the worker
(WORKER_PORT, 8081) under functions-framework (`devtools.function_server`),
each serving as many requests at once as Terraform lets one instance
(THREADS = `api_concurrency` / `worker_concurrency`, unless THREADS is set).
It prints its banner once the first sweep tick has gone through, so `make
doctor` passes from then on. SIGINT, SIGTERM, SIGHUP or the death of its
parent stop everything it started (`devtools.supervise`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from devtools import REPO_ROOT, supervise
from devtools.devauth import DEV_AUDIENCE, DEV_ISSUER, ensure_dev_keys, mint_token
from devtools.emulators import EmulatorMissing, LocalCloud
from devtools.function_server import command as function_command
from devtools.local_config import LocalConfig


def api_port() -> int:
    return int(os.environ.get("API_PORT") or 8080)


def worker_port() -> int:
    return int(os.environ.get("WORKER_PORT") or 8081)


def terraform_default(variable: str, variables_tf: Path | None = None) -> str:
    """The default of a variable in infra/variables.tf (a plain value: a number or a string)."""
    path = variables_tf or REPO_ROOT / "infra" / "variables.tf"
    text = path.read_text(encoding="utf-8")
    block = re.search(rf'^variable "{re.escape(variable)}" {{\n(.*?)^}}', text, re.M | re.S)
    default = block and re.search(r'^\s*default\s*=\s*"?([^"\n]*?)"?\s*$', block.group(1), re.M)
    if not default:
        raise RuntimeError(f"no default for variable {variable} in {path}")
    return default.group(1)


def function_env(env: dict[str, str], target: str) -> dict[str, str]:
    """A function's environment: THREADS as Terraform sets it for one instance, unless given."""
    if env.get("THREADS"):
        return env
    return {**env, "THREADS": terraform_default(f"{target}_concurrency")}


def wait_answering(url: str, timeout: float) -> bool:
    """Whether something answers HTTP at `url` within `timeout` seconds (any status)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            time.sleep(0.05)
    return False


# shared.adapters.firestore_heartbeat.SWEEP_HEARTBEAT, not imported: that module
# loads the Firestore client (test_make_dev fails if they part: no banner tick).
_SWEEP_HEARTBEAT = "system/sweep"


def wait_swept(host: str, project: str, since: datetime, timeout: float) -> bool:
    """Whether the sweep's heartbeat was written after `since`, within `timeout` seconds.

    Read through the Firestore emulator's REST endpoint: the Firestore client
    (gRPC and the generated types) would add most of a second of CPU to every
    `make dev`'s start for one document.
    """
    database = os.environ.get("FIRESTORE_DATABASE") or "(default)"
    url = f"http://{host}/v1/projects/{project}/databases/{database}/documents/{_SWEEP_HEARTBEAT}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        last = _heartbeat(url)
        if last is not None and last >= since:
            return True
        time.sleep(0.1)
    return False


def _heartbeat(url: str) -> datetime | None:
    """The heartbeat's lastSweepAt (None while the document or the field is missing)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            document = json.load(response)
    except OSError:  # HTTPError 404 included: no sweep has written it yet
        return None
    value = document.get("fields", {}).get("lastSweepAt", {}).get("timestampValue")
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def local_env() -> dict[str, str]:
    """Environment for the local api and worker: emulators, dev auth, offline LLM unless a key."""
    keys = ensure_dev_keys(REPO_ROOT / ".dev")
    env = dict(os.environ)
    env.update(LocalConfig.from_env(os.environ).env())
    env.setdefault("AUTH_JWKS_FILE", str(keys.jwks_path))
    env.setdefault("AUTH_ISSUER", DEV_ISSUER)
    env.setdefault("AUTH_AUDIENCE", DEV_AUDIENCE)
    # Usual local frontend dev servers (Vite, Next.js/CRA).
    env.setdefault("CORS_ALLOWED_ORIGINS", "http://localhost:5173,http://localhost:3000")
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env


def console_url(tenant: str = "org-dev", user: str = "dev-user") -> str:
    """The console, signed in with a dev token that lasts a working day.

    The token rides in the URL's fragment, which the browser never sends to
    a server; the page takes it from there.
    """
    token = mint_token(ensure_dev_keys(REPO_ROOT / ".dev"), tenant, user, ttl_seconds=8 * 3600)
    return f"http://127.0.0.1:{api_port()}/console#token={token}"


def serve(target: str, port: int) -> int:
    """Become one function's server (make api / make worker): signals reach it directly."""
    supervise.die_with_parent()  # kept across exec
    os.chdir(REPO_ROOT)
    command = function_command(target, port)
    os.execve(command[0], command, function_env(local_env(), target))


def dev() -> int:
    supervise.stop_on_signals()
    supervise.die_with_parent()
    env = local_env()
    cloud = LocalCloud(LocalConfig.from_env(env))
    children: list[supervise.Popen] = []

    def body() -> int:
        # The function servers first: their imports (seconds on a busy
        # machine) overlap the JVMs' start. They reach the emulators only
        # when the first push or request arrives, after the cloud is up.
        for target, port in (("api", api_port()), ("worker", worker_port())):
            children.append(
                supervise.spawn(
                    function_command(target, port), env=function_env(env, target), cwd=REPO_ROOT
                )
            )
        try:
            cloud.start()
        except EmulatorMissing as exc:
            print(exc, file=sys.stderr)
            return 2
        ready = wait_answering(cloud.config.worker_url, timeout=60)
        started = datetime.now(UTC)
        cloud.start_ticking()
        ticking = ready and cloud.config.sweep_seconds > 0
        if not (
            ticking
            and wait_swept(
                cloud.emulators.firestore_host, cloud.config.project, started, timeout=30
            )
        ):
            print("the first sweep tick did not reach the worker: `make doctor`", file=sys.stderr)
        llm = "OpenAI" if env.get("OPENAI_API_KEY") else "offline placeholder"
        print(
            f"\n{cloud.describe()}\n"
            f"api http://127.0.0.1:{api_port()}  worker http://127.0.0.1:{worker_port()}  "
            f"LLM: {llm}\n"
            f"console: {console_url()}\n"
            "token: make token TENANT=org-1 USER=me    Ctrl-C stops everything\n",
            flush=True,
        )
        while cloud.alive() and all(child.poll() is None for child in children):
            cloud.tick_if_due()
            time.sleep(0.5)
        print("a process exited; stopping the stack", file=sys.stderr)
        return 1

    def cleanup() -> None:
        supervise.stop(children)
        cloud.stop()

    return supervise.supervised(body, cleanup)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["dev", "api", "worker"])
    args = parser.parse_args(argv)
    if args.command == "api":
        return serve("api", api_port())
    if args.command == "worker":
        return serve("worker", worker_port())
    return dev()


if __name__ == "__main__":
    sys.exit(main())
