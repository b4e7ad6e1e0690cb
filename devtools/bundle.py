"""Build the deployable source bundles of the functions: `python -m devtools.bundle`.

Each `dist/<name>.zip` holds what Cloud Functions' Python buildpack expects at
its root:

- `main.py` (and any other `.py` under `functions/<name>/`), the entry point;
- the whole `shared/` package: `.py` files plus `.txt`/`.md` prompt texts and
  the console page's `.html`/`.css`/`.js`, never `__pycache__`;
- `requirements.txt`: the repository's, without comment or blank lines.

The zips are deterministic (sorted entries, fixed 1980-01-01 timestamps,
fixed permissions, fixed compression), so the same sources give byte-identical
bundles. Terraform names the uploaded object after the zip's md5: an unchanged
bundle plans no redeploy.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from devtools import REPO_ROOT

FUNCTIONS: tuple[str, ...] = ("api", "worker")

# The earliest timestamp a zip entry can carry.
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
# -rw-r--r--, regular file, in the upper 16 bits of external_attr (Unix).
FILE_MODE = 0o100644
COMPRESS_LEVEL = 9

SHARED_SUFFIXES = frozenset({".py", ".txt", ".md", ".html", ".css", ".js"})
EXCLUDED_DIRS = frozenset({"__pycache__"})


class BundleError(Exception):
    """The repository does not have what a bundle needs."""


def _files(root: Path, suffixes: frozenset[str]) -> Iterator[Path]:
    for path in root.rglob("*"):
        rel_parts = path.relative_to(root).parts
        if any(part in EXCLUDED_DIRS or part.startswith(".") for part in rel_parts):
            continue
        if path.is_file() and path.suffix in suffixes:
            yield path


def requirements_text(repo: Path) -> str:
    """The repository's requirements.txt without comment and blank lines."""
    source = repo / "requirements.txt"
    if not source.is_file():
        raise BundleError(f"{source} is missing")
    lines = [line.strip() for line in source.read_text(encoding="utf-8").splitlines()]
    kept = [line for line in lines if line and not line.startswith("#")]
    return "\n".join(kept) + "\n"


def bundle_entries(name: str, repo: Path = REPO_ROOT) -> dict[str, bytes]:
    """Archive name -> content of every file in function `name`'s bundle."""
    function_dir = repo / "functions" / name
    if not (function_dir / "main.py").is_file():
        raise BundleError(f"{function_dir / 'main.py'} is missing: no entry point for {name!r}")
    shared_dir = repo / "shared"
    if not (shared_dir / "__init__.py").is_file():
        raise BundleError(f"{shared_dir / '__init__.py'} is missing")

    entries: dict[str, bytes] = {}
    for path in _files(function_dir, frozenset({".py"})):
        entries[path.relative_to(function_dir).as_posix()] = path.read_bytes()
    for path in _files(shared_dir, SHARED_SUFFIXES):
        entries[path.relative_to(repo).as_posix()] = path.read_bytes()
    if "requirements.txt" in entries:
        raise BundleError(f"functions/{name}/requirements.txt would shadow the repository's")
    entries["requirements.txt"] = requirements_text(repo).encode("utf-8")
    return entries


def write_zip(entries: dict[str, bytes], target: Path) -> None:
    """Write `entries` to `target` deterministically (atomically replaced)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for arcname in sorted(entries):
            info = zipfile.ZipInfo(arcname, date_time=FIXED_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so external_attr means a mode
            info.external_attr = FILE_MODE << 16
            archive.writestr(info, entries[arcname], compresslevel=COMPRESS_LEVEL)
    partial.replace(target)


def build_bundle(name: str, out_dir: Path, repo: Path = REPO_ROOT) -> Path:
    """Build `<out_dir>/<name>.zip` from `repo` and return its path."""
    target = out_dir / f"{name}.zip"
    write_zip(bundle_entries(name, repo), target)
    return target


def build_all(
    out_dir: Path | None = None,
    repo: Path = REPO_ROOT,
    names: Sequence[str] = FUNCTIONS,
) -> dict[str, Path]:
    """Build every function's bundle; `out_dir` defaults to `<repo>/dist`."""
    destination = out_dir if out_dir is not None else repo / "dist"
    return {name: build_bundle(name, destination, repo) for name in names}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.bundle", description=__doc__)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output directory (default: dist/ in the repository)",
    )
    parser.add_argument("names", nargs="*", help=f"functions to bundle (default: {FUNCTIONS})")
    args = parser.parse_args(argv)
    names: Sequence[str] = args.names or FUNCTIONS
    unknown = sorted(set(names) - set(FUNCTIONS))
    if unknown:
        parser.error(f"unknown function(s) {unknown}; choose from {FUNCTIONS}")
    try:
        built = build_all(args.out, REPO_ROOT, names)
    except BundleError as exc:
        print(f"bundle: {exc}", file=sys.stderr)
        return 1
    for name, path in built.items():
        with zipfile.ZipFile(path) as archive:
            count = len(archive.namelist())
        shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
        print(f"{name}: {shown} {path.stat().st_size:,} bytes, {count} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
