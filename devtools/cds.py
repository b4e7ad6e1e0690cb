"""Class-data-sharing (AppCDS) archives that halve the emulators' JVM start-up.

Most of an emulator JVM's CPU until it answers goes to loading and verifying
the classes of its jar. A dynamic CDS archive holds them ready to map: the
Firestore emulator then starts on about 0.6 s of CPU instead of 1.1 s, the
Pub/Sub one on 0.4 s instead of 0.85 s, and the test suite starts some two
dozen of them.

Where: `~/.cache/genjobs/jvm-cds/` (under `$XDG_CACHE_HOME` when set). An
archive depends only on the JDK, the emulator's jar and the JVM options, not
on the checkout, so every clone and worktree on the machine shares it; the
file name carries a digest of all three (the JDK's version, its `libjvm.so`'s
size and time, the jar's path, size and time, the options), so an upgraded
JDK or emulator never meets an archive made for another: it makes its own.

How an archive comes to be, and why it is never half-read:
- the first start of a kind finds none and runs without; once it answers,
  a *training* JVM (the same command on another port, with
  `-XX:ArchiveClassesAtExit=<unique temp name>`) starts, is stopped with
  SIGTERM (the JVM writes the archive as it exits), and the temp file is
  renamed onto the archive's name only after that JVM exited cleanly.
  Renaming is atomic, so a reader maps either no file or a whole one; a
  training JVM killed (SIGKILL) or crashed leaves only its temp file, which
  is never used and which a start deletes once it is an hour old;
- a lock file (`O_EXCL`) lets one process on the machine train a kind at a
  time (three xdist workers start at once); a lock whose owner died is taken
  over. Two trainers racing anyway each rename a whole file: still one valid
  archive;
- a missing, foreign or unusable archive costs speed only: the JVM's default
  `-Xshare:auto` ignores what does not match (it prints one
  `[warning][cds]` line into the emulator's log), and an archive the JVM
  cannot even map (a truncated file crashes it with SIGBUS) is deleted by the
  caller, which starts the emulator again without it (`Emulators`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Options the caller may give that already steer CDS: ours would fight them.
_OWN_OPTIONS = ("SharedArchiveFile", "ArchiveClassesAtExit", "Xshare", "DumpLoadedClassList")
# Temp files of a training JVM that never finished (its process was killed).
_STALE_TEMP_SECONDS = 3600.0
# A training run (start, answer, dump) takes seconds; a lock this old is stale.
_STALE_LOCK_SECONDS = 600.0
# Archives unused this long are for a JDK or emulator no longer installed.
_UNUSED_ARCHIVE_SECONDS = 30 * 86400.0
# Exit statuses of a JVM that ran its exit path (and so wrote the archive):
# normal exit, or 128 + SIGINT, SIGTERM, SIGHUP.
CLEAN_EXITS = frozenset({0, 130, 143, 129})


def default_directory() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "genjobs" / "jvm-cds"


def java_binary(env: dict[str, str] | None = None) -> Path | None:
    """The `java` a launch runs: `$JAVA_HOME/bin/java` (the Pub/Sub launcher's choice) or PATH's."""
    environ = os.environ if env is None else env
    home = environ.get("JAVA_HOME")
    if home:
        return Path(home) / "bin" / "java"
    found = shutil.which("java", path=environ.get("PATH"))
    return Path(found) if found else None


def _stat_line(path: Path) -> str:
    try:
        info = path.stat()
    except OSError:
        return f"{path}:missing"
    return f"{path}:{info.st_size}:{info.st_mtime_ns}"


def _jdk_identity(java: Path) -> tuple[str, str]:
    """(readable version, identity line) of the JDK `java` belongs to, without starting a JVM."""
    real = java.resolve()
    home = real.parent.parent
    version = "unknown"
    with contextlib.suppress(OSError):
        release = (home / "release").read_text()
        match = re.search(r'^JAVA_RUNTIME_VERSION="([^"]+)"', release, re.MULTILINE)
        if match:
            version = match.group(1)
    return version, "|".join(
        (_stat_line(real), version, _stat_line(home / "lib" / "server" / "libjvm.so"))
    )


@dataclass(frozen=True)
class Archive:
    """One emulator's archive for one JDK, jar and set of JVM options."""

    path: Path

    @property
    def lock(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def use_options(self) -> tuple[str, ...]:
        """The JVM option that maps the archive, or none while there is no archive yet."""
        try:
            # Mark it used, so pruning keeps it.
            os.utime(self.path)
        except OSError:
            return ()
        return (f"-XX:SharedArchiveFile={self.path}",)

    def discard(self) -> None:
        """Delete an archive the JVM could not start with; the next training replaces it."""
        self.path.unlink(missing_ok=True)

    def claim(self) -> Path | None:
        """Become this archive's only trainer: a unique temp name to dump to, or None.

        None when the archive exists or another live process is training it.
        """
        if self.path.exists():
            return None
        for _ in range(2):
            try:
                fd = os.open(self.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not _stale(self.lock):
                    return None
                self.lock.unlink(missing_ok=True)
                continue
            except OSError:
                return None
            with os.fdopen(fd, "w") as out:
                out.write(str(os.getpid()))
            return self.path.with_name(f"{self.path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
        return None

    def install(self, temp: Path, returncode: int | None) -> bool:
        """Rename a training JVM's dump onto the archive if that JVM exited cleanly; else drop it.

        Called only after the JVM exited, so the file is complete when it
        exited cleanly; a killed JVM's file may be half written and is deleted.
        """
        try:
            if returncode in CLEAN_EXITS and temp.is_file() and temp.stat().st_size > 0:
                os.replace(temp, self.path)
                return True
            return False
        finally:
            temp.unlink(missing_ok=True)
            self.lock.unlink(missing_ok=True)


def _stale(lock: Path) -> bool:
    try:
        owner = int(lock.read_text() or "0")
        age = time.time() - lock.stat().st_mtime
    except (OSError, ValueError):
        return True
    if age > _STALE_LOCK_SECONDS or owner <= 0:
        return True
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _prune(directory: Path) -> None:
    """Delete killed trainers' temp files and archives nobody used for a month."""
    now = time.time()
    with contextlib.suppress(OSError):
        for entry in directory.iterdir():
            with contextlib.suppress(OSError):
                age = now - entry.stat().st_mtime
                if (entry.suffix == ".tmp" and age > _STALE_TEMP_SECONDS) or (
                    entry.suffix == ".jsa" and age > _UNUSED_ARCHIVE_SECONDS
                ):
                    entry.unlink()


def archive_for(
    directory: Path | None,
    name: str,
    *,
    java: Path | None,
    jar: Path,
    options: Sequence[str],
) -> Archive | None:
    """The archive for this emulator, JDK, jar and options; None when CDS cannot be used.

    None without a cache directory, without java, when the options already
    steer CDS, or when the path has whitespace (the Pub/Sub emulator gets its
    options through JAVA_TOOL_OPTIONS, which splits on it).
    """
    if directory is None or java is None or not jar.is_file():
        return None
    if any(own in option for option in options for own in _OWN_OPTIONS):
        return None
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    _prune(directory)
    version, jdk = _jdk_identity(java)
    digest = hashlib.sha256(
        "\n".join((jdk, _stat_line(jar.resolve()), " ".join(options))).encode()
    ).hexdigest()[:16]
    safe_version = re.sub(r"[^A-Za-z0-9.+-]", "_", version)
    path = directory / f"{name}-jdk{safe_version}-{digest}.jsa"
    if any(ch.isspace() for ch in str(path)):
        return None
    return Archive(path)
