"""The emulators' class-data-sharing archives (`devtools.cds`): made once, mapped, never harmful.

Real JVMs on a cache directory of the module's own: the archives are trained
once for the module (three first starts racing), then every test works on a
copy of that directory.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools import cds
from devtools.emulators import KINDS, QUICK_JVM, Emulators

pytestmark = pytest.mark.emulators


def _archive_files(directory: Path) -> dict[str, Path]:
    """The archive of each emulator in `directory`, by kind."""
    return {kind: next(directory.glob(f"{kind}-*.jsa")) for kind in KINDS}


def _mapped(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def _answers(host: str) -> bool:
    with urllib.request.urlopen(f"http://{host}/", timeout=5) as response:
        status: int = response.status
        return status == 200


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[Emulators]]]:
    """Three first starts on an empty cache at once (xdist's workers) ask for the archives."""
    directory = tmp_path_factory.mktemp("cds")
    racers = [
        Emulators(jvm_options=QUICK_JVM, cds_dir=directory, log_dir=tmp_path_factory.mktemp("l"))
        for _ in range(3)
    ]
    gate = threading.Barrier(len(racers))

    def race(emulators: Emulators) -> None:
        gate.wait()
        emulators.train_archives()

    threads = [threading.Thread(target=race, args=(each,)) for each in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for each in racers:
        each.wait_for_archives()
    yield directory, racers
    for each in racers:
        each.stop()


@pytest.fixture
def cache(trained: tuple[Path, list[Emulators]], tmp_path: Path) -> Path:
    """A copy of the trained cache this test may change."""
    copy = tmp_path / "cds"
    shutil.copytree(trained[0], copy)
    return copy


def test_concurrent_first_starts_end_with_one_archive_per_emulator(
    trained: tuple[Path, list[Emulators]],
) -> None:
    directory, racers = trained
    names = sorted(path.name for path in directory.iterdir())
    assert len(names) == 2, names  # no temp file, no lock left
    assert [name.split("-")[0] for name in names] == sorted(KINDS)
    assert all(name.endswith(".jsa") for name in names)
    # One of the three trained each archive; the others went on without.
    trainings = [log for each in racers for log in each.log_dir.glob("*-cds-training.log")]
    assert sorted(log.name.split("-")[0] for log in trainings) == sorted(KINDS)


def test_the_next_start_maps_the_archives_the_first_made(cache: Path, tmp_path: Path) -> None:
    archives = _archive_files(cache)
    with Emulators(jvm_options=QUICK_JVM, cds_dir=cache, log_dir=tmp_path) as emulators:
        for kind, process in zip(KINDS, emulators.processes, strict=True):
            assert str(archives[kind]) in _mapped(process.pid), kind
        assert _answers(emulators.firestore_host)
        assert _answers(emulators.pubsub_host)


def test_a_truncated_or_foreign_archive_only_costs_speed(cache: Path, tmp_path: Path) -> None:
    archives = _archive_files(cache)
    whole = archives["firestore"].read_bytes()
    # A half-written Firestore archive (the JVM crashes mapping it) and a
    # Pub/Sub archive that is another jar's (the JVM refuses it).
    archives["firestore"].chmod(0o644)
    archives["firestore"].write_bytes(whole[: len(whole) // 3])
    archives["pubsub"].chmod(0o644)
    archives["pubsub"].write_bytes(whole)
    with Emulators(jvm_options=QUICK_JVM, cds_dir=cache, log_dir=tmp_path) as emulators:
        assert _answers(emulators.firestore_host)
        assert _answers(emulators.pubsub_host)
        for kind, process in zip(KINDS, emulators.processes, strict=True):
            assert str(archives[kind]) not in _mapped(process.pid), kind
    assert "[warning][cds" in (tmp_path / "pubsub.log").read_text()


def test_a_killed_training_leaves_no_archive(cache: Path, tmp_path: Path) -> None:
    """A training JVM killed while dumping leaves a half file: it is deleted, never installed."""
    directory = tmp_path / "empty"
    directory.mkdir()
    half = _archive_files(cache)["firestore"].read_bytes()[:1_000_000]
    archive = cds.Archive(directory / "firestore-test.jsa")
    temp = archive.claim()
    assert temp is not None
    temp.write_bytes(half)
    assert not archive.install(temp, -9)  # SIGKILL
    assert list(directory.iterdir()) == []


def test_a_killed_trainers_leftover_is_deleted_an_hour_later(tmp_path: Path) -> None:
    """A trainer killed with its parent (no one to rename or delete its file) leaves a temp file."""
    leftover = tmp_path / "firestore-x.jsa.123.abc.tmp"
    leftover.write_bytes(b"half")
    fresh = tmp_path / "pubsub-x.jsa.456.def.tmp"
    fresh.write_bytes(b"still being written")
    two_hours_ago = time.time() - 7200
    os.utime(leftover, (two_hours_ago, two_hours_ago))
    java = cds.java_binary()
    assert cds.archive_for(tmp_path, "firestore", java=java, jar=Path(cds.__file__), options=())
    assert sorted(path.name for path in tmp_path.iterdir()) == [fresh.name]
