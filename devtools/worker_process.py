"""A function as a real process (`devtools.function_server`, as `make dev` runs it).

Used by the tests that kill a worker mid-step, by the benchmarks, by the
`doctor` tests and (with `target="api"`) by the tests of what the server
itself answers. The
server runs under gunicorn (a master and its workers), so signals go to the
whole process group: a SIGKILL leaves nothing running, like a vanished
instance.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from devtools import REPO_ROOT, supervise
from devtools.emulators import free_port
from devtools.function_server import cloud_command
from devtools.function_server import command as function_command


class WorkerProcess:
    """A function served by functions-framework (gunicorn) in its own process group."""

    def __init__(
        self,
        log_dir: Path,
        env: dict[str, str] | None = None,
        name: str = "worker",
        target: str = "worker",
        as_on_cloud: bool = False,
    ) -> None:
        self.name = name
        self.target = target
        # The launch command of Cloud Run's runtime instead of devtools.function_server.
        self.as_on_cloud = as_on_cloud
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log_dir / f"{target}-{name}-{self.port}.log"
        self.env = env if env is not None else {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        self.process: supervise.Popen | None = None

    def start(self, timeout: float = 30.0) -> WorkerProcess:
        launch = cloud_command if self.as_on_cloud else function_command
        self.process = supervise.spawn(
            launch(self.target, self.port), env=self.env, cwd=REPO_ROOT, log=self.log
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited: {self.log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(self.url, timeout=1)
                return self
            except urllib.error.HTTPError:
                return self  # it answers (a GET is not a CloudEvent): it is up
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"worker {self.name} did not start within {timeout:.0f} s")

    def kill(self) -> None:
        """SIGKILL the whole process group (gunicorn master and workers)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL what is left after 10 s."""
        if self.process is not None:
            supervise.stop([self.process])

    def log_entries(self) -> list[dict[str, Any]]:
        """The worker's structured log lines (one JSON object per line); others skipped."""
        entries: list[dict[str, Any]] = []
        if not self.log.exists():
            return entries
        for line in self.log.read_text(errors="replace").splitlines():
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict):
                entries.append(entry)
        return entries

    def deliveries_of(self, run_id: str) -> list[str]:
        """Outcomes of the push requests this worker handled for a run."""
        return [
            str(e.get("outcome"))
            for e in self.log_entries()
            if e.get("message") == "delivery finished" and e.get("runId") == run_id
        ]
