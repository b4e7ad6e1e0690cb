"""The worker as a real process (functions-framework's server) that Pub/Sub pushes to."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from devtools.emulators import free_port

REPO = Path(__file__).resolve().parent.parent


class WorkerProcess:
    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log_dir / f"worker-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "functions_framework",
                "--target",
                "worker",
                "--source",
                str(REPO / "functions/worker/main.py"),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            env=env,
            cwd=REPO,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            # functions-framework serves through gunicorn (a master and its
            # workers): signals go to the whole group.
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(self.url, timeout=1)  # noqa: S310 - loopback
                return self
            except urllib.error.HTTPError:
                return self  # answering (a GET is not a CloudEvent): it is up
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("worker did not start within 30 s")

    def kill(self) -> None:
        """SIGKILL: no cleanup, no lease release, like an instance that vanished."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
