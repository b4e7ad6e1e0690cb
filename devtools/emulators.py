"""The official Firestore and Pub/Sub emulators (Java), for tests, `make emulators` and `make dev`.

They are called directly rather than through `gcloud emulators`, which is
slow to start and leaves Java running when its wrapper is killed. If they
are not installed this fails loudly: no in-memory stand-in replaces them.

`make emulators` (`LocalCloud`) is what Google Cloud provides to the
functions: both emulators, the topics and subscriptions Terraform creates,
delivered to the worker at `WORKER_URL` (default port `WORKER_PORT`) as
Cloud's push does by `devtools.push` (a child process), and Cloud
Scheduler's sweep tick every `SWEEP_SECONDS`, the first at once.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from devtools import supervise
from devtools.local_config import LocalConfig
from devtools.provision import SweepTick, provision
from devtools.supervise import supervised

SDK = Path(os.environ.get("CLOUDSDK_PLATFORM_DIR", "/usr/lib/google-cloud-sdk/platform"))
FIRESTORE_JAR = SDK / "cloud-firestore-emulator" / "cloud-firestore-emulator.jar"
PUBSUB_BIN = SDK / "pubsub-emulator" / "bin" / "cloud-pubsub-emulator"
INSTALL_HINT = (
    "Install the Debian packages google-cloud-cli-firestore-emulator and "
    "google-cloud-cli-pubsub-emulator (and Java 17)."
)


class EmulatorMissing(RuntimeError):
    pass


# Below Linux's ephemeral range (32768-60999 by default), where the kernel
# picks the local port of every outgoing connection: a port chosen there can
# be taken by some client's connection before our server binds it.
_LISTEN_PORTS = range(20000, 32000)


def free_port() -> int:
    """A port nothing listens on now, for a server started a moment later.

    Chosen at random below the ephemeral range, so neither outgoing
    connections nor another test process (xdist) asking at the same time is
    likely to take it before the server binds.
    """
    for _ in range(200):
        port = random.choice(_LISTEN_PORTS)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        chosen: int = sock.getsockname()[1]
        return chosen


def check_installed() -> None:
    missing = [str(p) for p in (FIRESTORE_JAR, PUBSUB_BIN) if not p.exists()]
    if shutil.which("java") is None:
        missing.append("java")
    if missing:
        raise EmulatorMissing(f"emulators not found: {', '.join(missing)}. {INSTALL_HINT}")


def _wait_ready(url: str, process: subprocess.Popen[bytes], name: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{name} emulator exited early; see {log}:\n{log.read_text()[-2000:]}"
            )
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{name} emulator did not become ready within 60 s; see {log}")


# For a short-lived pair (a test session): the JIT's first tier only. The
# emulators then start faster and spend about 40% less CPU over a test
# session's few thousand requests than with the optimising tier, which only
# pays off in a long-running process (make dev and the benchmarks keep it).
QUICK_JVM = ("-XX:TieredStopAtLevel=1",)


@dataclass
class Emulators:
    firestore_port: int = 0
    pubsub_port: int = 0
    log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="emulators-")))
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    # Extra JVM options for both emulators (QUICK_JVM for a test session).
    jvm_options: tuple[str, ...] = ()

    @property
    def firestore_host(self) -> str:
        return f"127.0.0.1:{self.firestore_port}"

    @property
    def pubsub_host(self) -> str:
        return f"127.0.0.1:{self.pubsub_port}"

    def env(self) -> dict[str, str]:
        return {
            "FIRESTORE_EMULATOR_HOST": self.firestore_host,
            "PUBSUB_EMULATOR_HOST": self.pubsub_host,
        }

    def start(self) -> Emulators:
        check_installed()
        self.firestore_port = self.firestore_port or free_port()
        self.pubsub_port = self.pubsub_port or free_port()
        fs_log = self.log_dir / "firestore.log"
        ps_log = self.log_dir / "pubsub.log"
        firestore = supervise.spawn(self._firestore_command(), log=fs_log)
        self.processes.append(firestore)
        pubsub = self._start_pubsub(ps_log)
        self.processes.append(pubsub)
        try:
            _wait_ready(f"http://{self.firestore_host}/", firestore, "Firestore", fs_log)
            _wait_ready(f"http://{self.pubsub_host}/", pubsub, "Pub/Sub", ps_log)
        except BaseException:
            self.stop()
            raise
        return self

    def alive(self) -> bool:
        return all(process.poll() is None for process in self.processes)

    def stop(self) -> None:
        supervise.stop(self.processes)
        self.processes.clear()

    def _start_pubsub(self, log: Path) -> subprocess.Popen[bytes]:
        return supervise.spawn(
            [str(PUBSUB_BIN), "--host=127.0.0.1", f"--port={self.pubsub_port}"],
            # Options the caller's JAVA_TOOL_OPTIONS gives (the JVM reads it; the
            # Firestore emulator inherits it) apply to this JVM too.
            env={
                **os.environ,
                "JAVA_TOOL_OPTIONS": " ".join(
                    ("-Xmx512m", *self.jvm_options, os.environ.get("JAVA_TOOL_OPTIONS", ""))
                ).strip(),
            },
            log=log,
        )

    def stop_pubsub(self) -> None:
        """Kill the Pub/Sub emulator (an outage: topics and messages are gone with it)."""
        os.killpg(self.processes[1].pid, signal.SIGKILL)
        self.processes[1].wait()

    def start_pubsub(self) -> None:
        log = self.log_dir / "pubsub-restarted.log"
        self.processes[1] = self._start_pubsub(log)
        _wait_ready(f"http://{self.pubsub_host}/", self.processes[1], "Pub/Sub", log)

    def _firestore_command(self, *extra: str) -> list[str]:
        return [
            "java",
            "-Xmx512m",
            *self.jvm_options,
            "-Duser.language=en",
            "-cp",
            str(FIRESTORE_JAR),
            "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
            "start",
            "--host=127.0.0.1",
            f"--port={self.firestore_port}",
            *extra,
        ]

    def restart_firestore(self, project: str) -> None:
        """Stop and start the Firestore emulator on the same port, keeping its data.

        The data goes through the emulator's own export and import, as a
        real database keeps it across a restart; documents come back with
        new update times.
        """
        export_dir = Path(tempfile.mkdtemp(prefix="firestore-export-", dir=self.log_dir))
        body = json.dumps(
            {
                "database": f"projects/{project}/databases/(default)",
                "export_directory": str(export_dir),
            }
        ).encode()
        request = urllib.request.Request(
            f"http://{self.firestore_host}/emulator/v1/projects/{project}:export",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30):
            pass
        [metadata] = export_dir.glob("*/*.overall_export_metadata")
        firestore = self.processes[0]
        os.killpg(firestore.pid, signal.SIGKILL)
        firestore.wait()
        log = self.log_dir / "firestore-restarted.log"
        self.processes[0] = supervise.spawn(
            self._firestore_command(f"--import-data={metadata}"), log=log
        )
        _wait_ready(f"http://{self.firestore_host}/", self.processes[0], "Firestore", log)

    def __enter__(self) -> Emulators:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# What the emulator answers a reset while requests of the previous user
# (a test's listeners, its last commits) are still being cancelled.
_RESET_RACED = 499


def reset_firestore(host: str, project: str, tries: int = 5) -> None:
    """Delete every document (the emulator's own endpoint; much faster than deleting one by one).

    A reset racing the cancellation of the previous test's open listeners is
    refused with HTTP 499; it is tried again (seen once in 1505 tests).
    """
    url = f"http://{host}/emulator/v1/projects/{project}/databases/(default)/documents"
    for attempt in range(1, tries + 1):
        request = urllib.request.Request(url, method="DELETE")
        try:
            with urllib.request.urlopen(request, timeout=10):
                return
        except urllib.error.HTTPError as exc:
            if exc.code != _RESET_RACED or attempt == tries:
                raise
        time.sleep(0.1 * attempt)


class LocalCloud:
    """The emulators, provisioned as Terraform provisions Cloud, their push, and the sweep tick."""

    def __init__(self, config: LocalConfig) -> None:
        self.config = config
        self.emulators = Emulators(
            firestore_port=config.firestore_port, pubsub_port=config.pubsub_port
        )
        self._tick: SweepTick | None = None
        self._push: supervise.Popen | None = None

    def start(self) -> LocalCloud:
        """Emulators, topics and subscriptions, and the push deliverer (`devtools.push`)."""
        from devtools.push import command as push_command
        from devtools.push import status_path

        self.emulators.start()
        # The Pub/Sub client finds the emulator through the environment.
        os.environ.update(self.config.env())
        provision(
            self.config.project,
            self.config.events_topic,
            self.config.dead_letter_topic,
            results_topic=self.config.results_topic,
            triggers_topic=self.config.triggers_topic,
        )
        env = {
            **os.environ,
            **self.config.env(),
            "WORKER_URL": self.config.worker_url,
            "PUSH_MAX_IN_FLIGHT": str(self.config.push_max_in_flight),
        }
        status = status_path(self.config.pubsub_host)
        status.unlink(missing_ok=True)
        self._push = supervise.spawn(push_command(), env=env)
        deadline = time.monotonic() + 30
        while not status.exists():
            if self._push.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the push deliverer (python -m devtools.push) did not start")
            time.sleep(0.05)
        return self

    def start_ticking(self) -> None:
        """Cloud Scheduler's sweep tick: the first one now, then every SWEEP_SECONDS."""
        self._tick = SweepTick(
            self.config.project, self.config.events_topic, self.config.sweep_seconds
        )
        self._tick.tick_if_due()

    def tick_if_due(self) -> None:
        if self._tick is not None:
            self._tick.tick_if_due()

    def alive(self) -> bool:
        push_alive = self._push is not None and self._push.poll() is None
        return self.emulators.alive() and push_alive

    def describe(self) -> str:
        c = self.config
        tick = f"every {c.sweep_seconds:g} s" if c.sweep_seconds > 0 else "off (SWEEP_SECONDS=0)"
        return (
            f"Firestore emulator {self.emulators.firestore_host}, "
            f"Pub/Sub {self.emulators.pubsub_host} (logs in {self.emulators.log_dir})\n"
            f"topics {c.events_topic}, {c.dead_letter_topic}, {c.results_topic}; "
            f"pushed to {c.worker_url} as Cloud does (up to {c.push_max_in_flight} at once per "
            f"subscription, retry policy, dead letters); sweep tick {tick}"
        )

    def stop(self) -> None:
        if self._push is not None:
            supervise.stop([self._push])
        self.emulators.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args(argv)
    supervise.stop_on_signals()
    supervise.die_with_parent()
    cloud = LocalCloud(LocalConfig.from_env(os.environ))

    def serve() -> int:
        try:
            cloud.start()
        except EmulatorMissing as exc:
            print(exc, file=sys.stderr)
            return 2
        cloud.start_ticking()
        print(f"{cloud.describe()}\nCtrl-C stops everything", flush=True)
        while cloud.alive():
            cloud.tick_if_due()
            time.sleep(0.5)
        print("an emulator or the push deliverer exited", file=sys.stderr)
        return 1

    return supervised(serve, cloud.stop)


if __name__ == "__main__":
    sys.exit(main())
