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
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from devtools import cds, supervise
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


class EmulatorExited(RuntimeError):
    """An emulator's JVM exited before it answered."""


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
            raise EmulatorExited(
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
# The serial collector: the Firestore emulator spent ~9% less CPU on 1500
# writes and 375 queries than with G1 (5.2 vs 5.7 s, 6 alternated rounds),
# the Pub/Sub one the same; start-up CPU is the same with either.
QUICK_JVM = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")


Kind = str  # "firestore" or "pubsub"
KINDS: tuple[Kind, ...] = ("firestore", "pubsub")
_LABELS = {"firestore": "Firestore", "pubsub": "Pub/Sub"}


def _pubsub_jar() -> Path:
    """The jar the Pub/Sub launcher runs (`-jar`), which its CDS archive is keyed by."""
    jars = sorted((PUBSUB_BIN.parent.parent / "lib").glob("cloud-pubsub-emulator-*.jar"))
    return jars[-1] if jars else PUBSUB_BIN


@dataclass
class Emulators:
    firestore_port: int = 0
    pubsub_port: int = 0
    log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="emulators-")))
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    # Extra JVM options for both emulators (QUICK_JVM for a test session).
    jvm_options: tuple[str, ...] = ()
    # Where the class-data-sharing archives live (`devtools.cds`); None: none used.
    cds_dir: Path | None = field(default_factory=cds.default_directory)
    _archives: dict[Kind, cds.Archive] = field(default_factory=dict, init=False, repr=False)
    _training: list[threading.Thread] = field(default_factory=list, init=False, repr=False)
    _trainees: list[subprocess.Popen[bytes]] = field(default_factory=list, init=False, repr=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _stopping: bool = field(default=False, init=False, repr=False)
    # Processes started with an archive mapped (by pid).
    _mapped: set[int] = field(default_factory=set, init=False, repr=False)

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
        self._stopping = False
        self._archives = self._find_archives()
        logs = {kind: self.log_dir / f"{kind}.log" for kind in KINDS}
        # Both JVMs start at once; then each is waited for.
        self.processes.extend(self._spawn(kind, logs[kind]) for kind in KINDS)
        try:
            for index, kind in enumerate(KINDS):
                self.processes[index] = self._ready(kind, self.processes[index], logs[kind])
        except BaseException:
            self.stop()
            raise
        self.train_archives()
        return self

    def alive(self) -> bool:
        return all(process.poll() is None for process in self.processes)

    def stop(self) -> None:
        self._stop_training()
        supervise.stop(self.processes)
        self.processes.clear()

    def wait_for_archives(self, timeout: float = 120.0) -> None:
        """Wait until the archives this start found missing are made (tests; nothing else waits)."""
        deadline = time.monotonic() + timeout
        for thread in list(self._training):
            thread.join(max(0.0, deadline - time.monotonic()))

    def stop_pubsub(self) -> None:
        """Kill the Pub/Sub emulator (an outage: topics and messages are gone with it)."""
        os.killpg(self.processes[1].pid, signal.SIGKILL)
        self.processes[1].wait()

    def start_pubsub(self) -> None:
        log = self.log_dir / "pubsub-restarted.log"
        self.processes[1] = self._ready("pubsub", self._spawn("pubsub", log), log)

    # -- launching, with the class-data-sharing archive when there is one --

    def _key_options(self) -> tuple[str, ...]:
        """Every JVM option both emulators run with (JAVA_TOOL_OPTIONS too): the archive key."""
        inherited = os.environ.get("JAVA_TOOL_OPTIONS", "").split()
        return ("-Xmx512m", *self.jvm_options, *inherited)

    def _find_archives(self) -> dict[Kind, cds.Archive]:
        options = self._key_options()
        jars = {"firestore": FIRESTORE_JAR, "pubsub": _pubsub_jar()}
        # The Firestore emulator runs PATH's java; the Pub/Sub launcher prefers $JAVA_HOME's.
        javas = {
            "firestore": cds.java_binary({"PATH": os.environ.get("PATH", "")}),
            "pubsub": cds.java_binary(),
        }
        found = {}
        for kind in KINDS:
            archive = cds.archive_for(
                self.cds_dir, kind, java=javas[kind], jar=jars[kind], options=options
            )
            if archive is not None:
                found[kind] = archive
        return found

    def _archive_options(self, kind: Kind) -> tuple[str, ...]:
        archive = self._archives.get(kind)
        use = archive.use_options() if archive is not None else ()
        if use and not any(ch.isspace() for ch in str(self.log_dir)):
            # A JVM that crashes on a bad archive writes its report here, not into the cwd.
            use = (*use, f"-XX:ErrorFile={self.log_dir}/hs_err_{kind}_%p.log")
        return use

    def _spawn(
        self,
        kind: Kind,
        log: Path,
        *,
        jvm: tuple[str, ...] | None = None,
        port: int = 0,
        extra: tuple[str, ...] = (),
    ) -> subprocess.Popen[bytes]:
        """Start one emulator's JVM; `jvm` defaults to the options that map its archive."""
        options = self._archive_options(kind) if jvm is None else jvm
        if kind == "firestore":
            command = self._firestore_command(*extra, port=port, jvm=options)
            process = supervise.spawn(command, log=log)
        else:
            process = self._spawn_pubsub(log, port, options)
        if any("SharedArchiveFile" in option for option in options):
            self._mapped.add(process.pid)
        return process

    def _spawn_pubsub(
        self, log: Path, port: int, options: tuple[str, ...]
    ) -> subprocess.Popen[bytes]:
        return supervise.spawn(
            [str(PUBSUB_BIN), "--host=127.0.0.1", f"--port={port or self.pubsub_port}"],
            # Options the caller's JAVA_TOOL_OPTIONS gives (the JVM reads it; the
            # Firestore emulator inherits it) apply to this JVM too.
            env={
                **os.environ,
                "JAVA_TOOL_OPTIONS": " ".join(
                    (
                        "-Xmx512m",
                        *self.jvm_options,
                        *options,
                        os.environ.get("JAVA_TOOL_OPTIONS", ""),
                    )
                ).strip(),
            },
            log=log,
        )

    def _ready(
        self,
        kind: Kind,
        process: subprocess.Popen[bytes],
        log: Path,
        extra: tuple[str, ...] = (),
        port: int = 0,
    ) -> subprocess.Popen[bytes]:
        """Wait until the emulator answers; one that died on its archive starts again without.

        A truncated or otherwise unmappable archive crashes the JVM (SIGBUS)
        rather than being ignored: it is deleted, the next start trains a new
        one, and this start costs only the time of a start without archive.
        """
        port = port or (self.firestore_port if kind == "firestore" else self.pubsub_port)
        url = f"http://127.0.0.1:{port}/"
        try:
            _wait_ready(url, process, _LABELS[kind], log)
            return process
        except EmulatorExited:
            archive = self._archives.get(kind)
            if archive is None or process.pid not in self._mapped:
                raise
        archive.discard()
        again = self._spawn(kind, log, jvm=(), port=port, extra=extra)
        _wait_ready(url, again, _LABELS[kind], log)
        return again

    def train_archives(self) -> None:
        """Make the missing class-data-sharing archives in the background (`start` calls this).

        At most one process on the machine trains an archive at a time (a
        lock in the cache directory); the others go on without it.
        """
        self._archives = self._archives or self._find_archives()
        todo = [
            (kind, archive, temp)
            for kind, archive in self._archives.items()
            if (temp := archive.claim()) is not None
        ]
        if todo:
            thread = threading.Thread(
                target=self._train, args=(todo,), name="cds-training", daemon=True
            )
            self._training.append(thread)
            thread.start()

    def _train(self, todo: list[tuple[Kind, cds.Archive, Path]]) -> None:
        """Start each emulator once more with `-XX:ArchiveClassesAtExit`, then stop it: it dumps.

        The dump is installed only if the JVM answered (so the archive holds
        the classes of a whole start) and then exited cleanly on SIGTERM.
        """
        for kind, archive, temp in todo:
            returncode: int | None = None
            try:
                with self._guard:
                    if self._stopping:
                        continue
                    port = free_port()
                    log = self.log_dir / f"{kind}-cds-training.log"
                    process = self._spawn(
                        kind, log, jvm=(f"-XX:ArchiveClassesAtExit={temp}",), port=port
                    )
                    self._trainees.append(process)
                _wait_ready(f"http://127.0.0.1:{port}/", process, _LABELS[kind], log)
                # The dump takes a few seconds of the JVM's exit.
                supervise.stop([process], timeout=120)
                returncode = process.returncode
            except Exception as exc:  # a failed training costs speed only
                if not self._stopping:
                    print(f"no class-data-sharing archive for {kind}: {exc}", file=sys.stderr)
            finally:
                # Killed by `stop` (SIGKILL) or failed: the temp file goes, nothing is installed.
                archive.install(temp, returncode)

    def _stop_training(self) -> None:
        """Kill training JVMs at once (half dumps are deleted); the next start trains again."""
        with self._guard:
            self._stopping = True
            trainees = list(self._trainees)
        for process in trainees:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
        for thread in self._training:
            thread.join(30)
        self._training.clear()
        self._trainees.clear()

    def _firestore_command(
        self, *extra: str, port: int = 0, jvm: tuple[str, ...] = ()
    ) -> list[str]:
        return [
            "java",
            "-Xmx512m",
            *self.jvm_options,
            *jvm,
            "-Duser.language=en",
            "-cp",
            str(FIRESTORE_JAR),
            "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
            "start",
            "--host=127.0.0.1",
            f"--port={port or self.firestore_port}",
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
        extra = (f"--import-data={metadata}",)
        process = self._spawn("firestore", log, extra=extra)
        self.processes[0] = self._ready("firestore", process, log, extra=extra)

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
