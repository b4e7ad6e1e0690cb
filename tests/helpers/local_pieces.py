"""The local stack's `make` targets as a developer runs them, each in a process of its own.

Each piece is `make <target>` in its own process group, on free ports given
through the environment DEVELOPING.md documents (FIRESTORE_EMULATOR_HOST,
PUBSUB_EMULATOR_HOST, WORKER_PORT, API_PORT, SWEEP_SECONDS), so it never
touches the default ports another stack may be using.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from devtools import REPO_ROOT, supervise
from devtools.emulators import QUICK_JVM, free_port
from devtools.push import status_path

# Variables of the surrounding test session that must not leak into a piece.
_SESSION_ONLY = (
    "FIRESTORE_EMULATOR_HOST",
    "PUBSUB_EMULATOR_HOST",
    "GOOGLE_CLOUD_PROJECT",
    "EVENTS_TOPIC",
    "DEAD_LETTER_TOPIC",
    "OPENAI_API_KEY",
    "OPENAI_API_KEY_SECRET",
    "OPENAI_BASE_URL",
    "MAKEFLAGS",
    "MFLAGS",
)


@dataclass
class Ports:
    firestore: int = field(default_factory=free_port)
    pubsub: int = field(default_factory=free_port)
    worker: int = field(default_factory=free_port)
    api: int = field(default_factory=free_port)

    def env(self) -> dict[str, str]:
        return {
            "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{self.firestore}",
            "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{self.pubsub}",
            "WORKER_PORT": str(self.worker),
            "API_PORT": str(self.api),
        }

    def all(self) -> list[int]:
        return [self.firestore, self.pubsub, self.worker, self.api]


def piece_env(ports: Ports, **extra: str) -> dict[str, str]:
    """The piece's environment; its emulators get the test session's short-lived JVM options.

    A test's stack lives seconds: the JIT's first tier only (`QUICK_JVM`)
    starts the emulators sooner and costs less CPU than the optimising tier
    `make dev` keeps for a long session. JAVA_TOOL_OPTIONS reaches both JVMs.
    """
    env = {k: v for k, v in os.environ.items() if k not in _SESSION_ONLY}
    return {**env, "JAVA_TOOL_OPTIONS": " ".join(QUICK_JVM), **ports.env(), **extra}


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to reap it is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            children = [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            found.append(child)
            found.extend(descendants(child))
    return found


# What `make dev` and `make emulators` print once everything they start is up.
BANNER = "Ctrl-C stops everything"


@dataclass
class Piece:
    """`make <target>` in its own process group; its log in `log`."""

    target: str
    env: dict[str, str]
    log: Path
    process: supervise.Popen | None = None

    def start(self) -> Piece:
        self.process = supervise.spawn(
            ["make", "--no-print-directory", self.target], env=self.env, cwd=REPO_ROOT, log=self.log
        )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def wait_listening(self, ports: list[int], timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while not all(listening(port) for port in ports):
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"make {self.target} exited:\n{self.log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"make {self.target} not listening on {ports} after {timeout:.0f} s:\n"
                    f"{self.log.read_text()[-3000:]}"
                )
            time.sleep(0.2)

    def wait_printed(self, text: str, timeout: float = 120.0) -> None:
        """Until the piece printed `text` (the banner of `make dev`, `make emulators`: all up)."""
        deadline = time.monotonic() + timeout
        while text not in self.log.read_text(errors="replace"):
            assert self.process is not None
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"make {self.target} did not print {text!r}:\n{self.log.read_text()[-3000:]}"
                )
            time.sleep(0.1)

    def signal(self, signum: signal.Signals) -> None:
        os.kill(self.pid, signum)

    def stop(self) -> None:
        if self.process is not None:
            supervise.stop([self.process])

    def kill(self, timeout: float = 15.0) -> None:
        """SIGKILL `make` and every process under it at once, and wait until they are gone.

        For a fixture whose tests only observed the stack: a graceful stop
        (`stop`) takes the supervisor's ordered shutdown, seconds of each
        piece's stop in turn, which nothing checks there (the stopping itself
        is `test_local_stack_stops`'s). Parents are killed before their
        children, so none is left to start another; the stack's pieces run in
        process groups of their own, so each is named by its pid.
        """
        if self.process is None or self.process.poll() is not None:
            return
        processes = [self.pid, *descendants(self.pid)]
        for pid in processes:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()
        survivors = wait_until_dead(processes, timeout)
        assert survivors == [], f"make {self.target} left {survivors} after SIGKILL"
        # What the push deliverer's own stop would have removed.
        status_path(self.env.get("PUBSUB_EMULATOR_HOST", "")).unlink(missing_ok=True)


def _still(holds: Callable[[int], bool], items: list[int], timeout: float) -> list[int]:
    """The items for which `holds` is still true after `timeout` s ([] as soon as none)."""
    deadline = time.monotonic() + timeout
    while True:
        left = [item for item in items if holds(item)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def wait_until_free(ports: list[int], timeout: float) -> list[int]:
    return _still(listening, ports, timeout)


def wait_until_dead(pids: list[int], timeout: float) -> list[int]:
    return _still(alive, pids, timeout)
