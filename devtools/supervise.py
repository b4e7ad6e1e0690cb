"""Child processes of the local stack that never outlive it.

Three ways a supervisor (`make dev`, `make emulators`, the test session) can
go away, and what stops its children in each:
- SIGINT, SIGTERM or SIGHUP: `stop_on_signals` turns the first one into a
  `Stopped` exception and ignores the rest, so cleanup runs to its end
  (`supervised` retries a cleanup that a signal interrupted before that);
- the supervisor dies without cleaning up (SIGKILL, a crash): every child is
  started with the Linux parent-death signal (`PR_SET_PDEATHSIG`, set by
  util-linux's `setpriv --pdeathsig` as it execs the child), so the kernel
  sends it SIGTERM;
- the supervisor's own parent dies (`make` killed with SIGKILL):
  `die_with_parent` asks for the same signal for the supervisor itself.

Children run in process groups of their own (Ctrl-C in a terminal reaches
only the supervisor, which stops them in order), and `stop` signals the
whole group, so a gunicorn master's workers go too.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType

PR_SET_PDEATHSIG = 1
Popen = subprocess.Popen[bytes]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
# Not a `preexec_fn`: Python code between fork and exec runs the parent's
# at-fork hooks in the child, and gRPC's (a test session or a supervisor
# holding Firestore or Pub/Sub clients) abort it ("epoll_wait: Bad file
# descriptor"). setpriv sets the signal and execs the command instead.
_SETPRIV = shutil.which("setpriv") if _LIBC is not None else None
# The kernel sends the parent-death signal when the *thread* that forked the
# child ends, so children are forked from the main thread or from this one,
# which lives as long as the process.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spawner")


class Stopped(Exception):
    """A stop signal arrived."""


def die_with_parent(parent: int | None = None) -> None:
    """Have the kernel send this process SIGTERM when its parent dies (Linux only).

    With `parent`, a parent that died before the request took effect is
    noticed too: the process is then already orphaned and exits at once.
    """
    if _LIBC is None:
        return
    _LIBC.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def spawn(
    command: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    log: Path | None = None,
) -> Popen:
    """Start a child in its own process group that gets SIGTERM when this process dies."""
    argv = list(command)
    if _SETPRIV is not None:
        argv = [_SETPRIV, "--pdeathsig", "TERM", "--", *argv]

    def popen() -> Popen:
        out = log.open("ab") if log is not None else None
        try:
            return subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT if out is not None else None,
                start_new_session=True,
            )
        finally:
            if out is not None:
                out.close()

    if threading.current_thread() is threading.main_thread():
        return popen()
    return _SPAWNER.submit(popen).result()


def _signal_group(process: Popen, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def stop(processes: Sequence[Popen], timeout: float = 10.0) -> None:
    """SIGTERM each child's process group, then SIGKILL what is left after `timeout` seconds."""
    for process in processes:
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()
        # A group leader that exited may leave members behind (a gunicorn worker).
        _signal_group(process, signal.SIGKILL)


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    for each in STOP_SIGNALS:
        signal.signal(each, signal.SIG_IGN)
    raise Stopped(signal.Signals(signum).name)


def stop_on_signals() -> None:
    """Make the first SIGINT, SIGTERM or SIGHUP raise `Stopped`; later ones are ignored."""
    for each in STOP_SIGNALS:
        signal.signal(each, _raise_stopped)


def supervised(body: Callable[[], int], cleanup: Callable[[], None]) -> int:
    """Run `body`, then `cleanup` whatever happens; a stop signal ends `body` with exit code 0.

    `cleanup` must be idempotent: a signal arriving as it starts interrupts it
    once (the handler then ignores further signals), and it runs again.
    """
    try:
        return body()
    except Stopped:
        return 0
    finally:
        while True:
            try:
                cleanup()
                break
            except Stopped:
                continue
