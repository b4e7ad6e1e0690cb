"""The local stack: `make dev` and its pieces (`make api`, `make worker`, the sweeper).

`dev` starts the emulators, provisions topics and push subscriptions to the
local worker, runs the api (8080) and the worker (8081) under
functions-framework, and publishes the sweep tick every SWEEP_SECONDS, as
Cloud Scheduler does in production. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from devtools.devauth import DEV_AUDIENCE, DEV_ISSUER, ensure_dev_keys

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PROJECT = "demo-genjobs"
API_PORT = int(os.environ.get("API_PORT", "8080"))
WORKER_PORT = int(os.environ.get("WORKER_PORT", "8081"))
SWEEP_SECONDS = float(os.environ.get("SWEEP_SECONDS", "15"))


def local_env() -> dict[str, str]:
    """Environment for the local api and worker: emulators, dev auth, offline LLM unless a key."""
    keys = ensure_dev_keys(REPO / ".dev")
    env = dict(os.environ)
    env.setdefault("GOOGLE_CLOUD_PROJECT", DEFAULT_PROJECT)
    env.setdefault("FIRESTORE_EMULATOR_HOST", "127.0.0.1:8681")
    env.setdefault("PUBSUB_EMULATOR_HOST", "127.0.0.1:8682")
    env.setdefault("AUTH_JWKS_FILE", str(keys.jwks_path))
    env.setdefault("AUTH_ISSUER", DEV_ISSUER)
    env.setdefault("AUTH_AUDIENCE", DEV_AUDIENCE)
    # Usual local frontend dev servers (Vite, Next.js/CRA).
    env.setdefault("CORS_ALLOWED_ORIGINS", "http://localhost:5173,http://localhost:3000")
    env["PYTHONPATH"] = str(REPO)
    return env


def function_command(target: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "functions_framework",
        "--target",
        target,
        "--source",
        str(REPO / "functions" / target / "main.py"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def serve(target: str, port: int) -> int:
    """Run one function in the foreground (make api / make worker)."""
    return subprocess.call(function_command(target, port), env=local_env(), cwd=REPO)


def sweeper(env: dict[str, str]) -> None:
    """Publish the sweep tick forever (what Cloud Scheduler does in production)."""
    os.environ.update(env)
    from shared.adapters.pubsub import PubSubPublisher

    publisher = PubSubPublisher(
        env["GOOGLE_CLOUD_PROJECT"], env.get("EVENTS_TOPIC", "generation-events")
    )
    while True:
        time.sleep(SWEEP_SECONDS)
        try:
            publisher.publish_sweep()
        except Exception as exc:  # keep ticking; the emulator may be restarting
            print(f"sweep tick failed: {exc}", file=sys.stderr)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def dev() -> int:
    from devtools.emulators import EmulatorMissing, Emulators
    from devtools.provision import provision

    # Ctrl-C or a supervisor's SIGTERM both stop everything this started, even
    # when SIGINT was ignored by the shell that launched us in the background.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)

    env = local_env()
    fs_port = int(env["FIRESTORE_EMULATOR_HOST"].rsplit(":", 1)[1])
    ps_port = int(env["PUBSUB_EMULATOR_HOST"].rsplit(":", 1)[1])
    emulators = Emulators(firestore_port=fs_port, pubsub_port=ps_port)
    try:
        emulators.start()
    except EmulatorMissing as exc:
        print(exc, file=sys.stderr)
        return 2
    children: list[subprocess.Popen[bytes]] = []
    try:
        os.environ.update(env)
        provision(
            env["GOOGLE_CLOUD_PROJECT"],
            env.get("EVENTS_TOPIC", "generation-events"),
            env.get("DEAD_LETTER_TOPIC", "generation-events-dead-letter"),
            f"http://127.0.0.1:{WORKER_PORT}",
        )
        children.append(subprocess.Popen(function_command("api", API_PORT), env=env, cwd=REPO))
        children.append(
            subprocess.Popen(function_command("worker", WORKER_PORT), env=env, cwd=REPO)
        )
        children.append(
            subprocess.Popen([sys.executable, "-m", "devtools.dev", "sweeper"], env=env, cwd=REPO)
        )
        llm = "OpenAI" if env.get("OPENAI_API_KEY") else "offline placeholder"
        print(
            f"\napi http://127.0.0.1:{API_PORT}  worker http://127.0.0.1:{WORKER_PORT}  "
            f"LLM: {llm}  sweep every {SWEEP_SECONDS:.0f}s\n"
            "token: make token TENANT=org-1 USER=me    Ctrl-C stops everything\n",
            flush=True,
        )
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        print("a process exited; stopping the stack", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        emulators.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["dev", "api", "worker", "sweeper"])
    args = parser.parse_args(argv)
    if args.command == "api":
        return serve("api", API_PORT)
    if args.command == "worker":
        return serve("worker", WORKER_PORT)
    if args.command == "sweeper":
        try:
            sweeper(local_env())
        except KeyboardInterrupt:
            return 0
    return dev()


if __name__ == "__main__":
    sys.exit(main())
