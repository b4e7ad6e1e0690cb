"""Stopping `make dev` or `make emulators` in any way leaves nothing running.

A supervisor, an IDE or a CI runner sends SIGTERM; a terminal sends SIGINT to
the foreground process group; a crashed or SIGKILLed parent sends nothing at
all. In every case the Java emulators (in process groups of their own) and
the function servers must go: nothing listens on the stack's ports 15 s
later and no process it started is left.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.helpers.local_pieces import (
    BANNER,
    Piece,
    Ports,
    descendants,
    piece_env,
    wait_until_dead,
    wait_until_free,
)

GRACE = 15.0

# `make dev` / `make emulators` start the emulators themselves.
pytestmark = pytest.mark.emulators


def _started(target: str, tmp_path: Path) -> tuple[Piece, list[int]]:
    ports = Ports()
    piece = Piece(target, piece_env(ports, SWEEP_SECONDS="1"), tmp_path / f"{target}.log")
    used = ports.all() if target == "dev" else [ports.firestore, ports.pubsub]
    piece.start().wait_listening(used)
    # Everything started (the push deliverer and the first tick included), so
    # each process it starts is among those the test then expects gone.
    piece.wait_printed(BANNER)
    return piece, used


def _supervisor(piece: Piece) -> int:
    """The Python process `make` runs (the stack's supervisor)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = descendants(piece.pid)
        if children:
            return children[0]
        time.sleep(0.1)
    raise AssertionError("make started no process")


def _assert_all_gone(piece: Piece, ports: list[int], processes: list[int]) -> None:
    """Within GRACE seconds of the signal: nothing listens, and nothing it started runs."""
    started = time.monotonic()
    assert wait_until_free(ports, GRACE) == [], f"still listening; log:\n{piece.log.read_text()}"
    left = GRACE - (time.monotonic() - started)
    survivors = wait_until_dead(processes, max(left, 0.0))
    assert survivors == [], f"left running: {_commands(survivors)}; log:\n{piece.log.read_text()}"


def _commands(pids: list[int]) -> list[str]:
    """Each survivor's command line, so a failure says which piece did not stop."""
    lines = []
    for pid in pids:
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            raw = b"(gone)"
        command = raw.replace(b"\0", b" ").decode(errors="replace")
        lines.append(f"{pid}: {command[:200]}")
    return lines


@pytest.mark.parametrize("target", ["dev", "emulators"])
def test_sigterm_to_make_stops_every_process_it_started(target: str, tmp_path: Path):
    piece, ports = _started(target, tmp_path)
    try:
        processes = descendants(piece.pid)
        assert len(processes) >= 3  # the supervisor and both emulators at least

        piece.signal(signal.SIGTERM)

        _assert_all_gone(piece, ports, processes)
    finally:
        piece.stop()


def test_ctrl_c_in_the_terminal_stops_make_dev(tmp_path: Path):
    piece, ports = _started("dev", tmp_path)
    try:
        processes = descendants(piece.pid)

        os.killpg(piece.pid, signal.SIGINT)  # what a terminal does on Ctrl-C

        _assert_all_gone(piece, ports, processes)
    finally:
        piece.stop()


@pytest.mark.parametrize("target", ["dev", "emulators"])
def test_a_supervisor_killed_with_sigkill_takes_its_children_with_it(target: str, tmp_path: Path):
    piece, ports = _started(target, tmp_path)
    try:
        supervisor = _supervisor(piece)
        processes = descendants(supervisor)
        assert len(processes) >= 2

        os.kill(supervisor, signal.SIGKILL)  # no cleanup code runs

        _assert_all_gone(piece, ports, processes)
    finally:
        piece.stop()


def test_make_killed_with_sigkill_takes_the_stack_with_it(tmp_path: Path):
    piece, ports = _started("dev", tmp_path)
    try:
        processes = descendants(piece.pid)

        piece.signal(signal.SIGKILL)

        _assert_all_gone(piece, ports, processes)
    finally:
        piece.stop()
