"""Start and stop the official Firestore and Pub/Sub emulators (Java), for tests and `make dev`.

They are called directly rather than through `gcloud emulators`, which is
slow to start and leaves Java running when its wrapper is killed. If they
are not installed this fails loudly: no in-memory stand-in replaces them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

SDK = Path(os.environ.get("CLOUDSDK_PLATFORM_DIR", "/usr/lib/google-cloud-sdk/platform"))
FIRESTORE_JAR = SDK / "cloud-firestore-emulator" / "cloud-firestore-emulator.jar"
PUBSUB_BIN = SDK / "pubsub-emulator" / "bin" / "cloud-pubsub-emulator"
INSTALL_HINT = (
    "Install the Debian packages google-cloud-cli-firestore-emulator and "
    "google-cloud-cli-pubsub-emulator (and Java 17)."
)


class EmulatorMissing(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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


@dataclass
class Emulators:
    firestore_port: int = 0
    pubsub_port: int = 0
    log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="emulators-")))
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

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
        firestore = subprocess.Popen(
            self._firestore_command(),
            stdout=fs_log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
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

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()

    def _start_pubsub(self, log: Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [str(PUBSUB_BIN), "--host=127.0.0.1", f"--port={self.pubsub_port}"],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            env={**os.environ, "JAVA_TOOL_OPTIONS": "-Xmx512m"},
            start_new_session=True,
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
        self.processes[0] = subprocess.Popen(
            self._firestore_command(f"--import-data={metadata}"),
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait_ready(f"http://{self.firestore_host}/", self.processes[0], "Firestore", log)

    def __enter__(self) -> Emulators:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def reset_firestore(host: str, project: str) -> None:
    """Delete every document (the emulator's own endpoint; much faster than deleting one by one)."""
    url = f"http://{host}/emulator/v1/projects/{project}/databases/(default)/documents"
    request = urllib.request.Request(url, method="DELETE")
    with urllib.request.urlopen(request, timeout=10):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the Firestore and Pub/Sub emulators.")
    parser.add_argument("--firestore-port", type=int, default=8681)
    parser.add_argument("--pubsub-port", type=int, default=8682)
    args = parser.parse_args(argv)
    emulators = Emulators(firestore_port=args.firestore_port, pubsub_port=args.pubsub_port)
    try:
        emulators.start()
    except EmulatorMissing as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"Firestore emulator on {emulators.firestore_host}, Pub/Sub on {emulators.pubsub_host}")
    print(f"logs in {emulators.log_dir}; Ctrl-C stops both", flush=True)
    try:
        while all(p.poll() is None for p in emulators.processes):
            time.sleep(1)
        print("an emulator exited", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        emulators.stop()


if __name__ == "__main__":
    sys.exit(main())
