"""The frontend's TypeScript types, generated from the api's OpenAPI document and committed.

`generate` writes `clients/typescript/openapi.json` (the document `/openapi.json`
serves) and `api.d.ts` (openapi-typescript's types for it). `check`
regenerates both into a temporary directory, fails with a diff if the
committed files differ, and type-checks `example.ts` (docs/api.md's fetch
example), `events.ts` (the typed event-stream reader) and `events-example.ts`
(README's) against the types, so none of them can go stale.
openapi-typescript and tsc come from `npm ci` in that folder (`make clients`).
"""

from __future__ import annotations

import argparse
import difflib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from devtools import REPO_ROOT

CLIENT = REPO_ROOT / "clients" / "typescript"
GENERATED = ("openapi.json", "api.d.ts")


def _tool(name: str) -> str:
    path = CLIENT / "node_modules" / ".bin" / name
    if not path.exists():
        raise SystemExit(f"{path} is missing: run `make clients` (npm ci in {CLIENT})")
    return str(path)


def document_text() -> str:
    import shared.workflows  # noqa: F401 - the workflows register themselves
    from shared.http.app import ROUTES
    from shared.http.openapi import build

    return json.dumps(build(ROUTES), indent=2) + "\n"


def generate(into: Path) -> None:
    (into / "openapi.json").write_text(document_text())
    subprocess.run(
        [_tool("openapi-typescript"), "openapi.json", "--output", "api.d.ts"],
        cwd=into,
        check=True,
        capture_output=True,
    )


def stale_files(fresh: Path, committed: Path = CLIENT) -> list[str]:
    """Unified diffs of every generated file that differs from its committed copy."""
    diffs = []
    for name in GENERATED:
        old = (committed / name).read_text() if (committed / name).exists() else ""
        new = (fresh / name).read_text()
        if old != new:
            lines = difflib.unified_diff(
                old.splitlines(keepends=True),
                new.splitlines(keepends=True),
                f"committed/{name}",
                f"generated/{name}",
            )
            diffs.append("".join(lines))
    return diffs


def typecheck_example() -> None:
    subprocess.run([_tool("tsc"), "--project", str(CLIENT / "tsconfig.json")], check=True)


def check() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        diffs = stale_files(Path(tmp))
    if diffs:
        sys.stdout.write("".join(diffs))
        print("clients/typescript is stale: run `make clients` and commit the result")
        return 1
    typecheck_example()
    print("clients/typescript: types current, example type-checks")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["generate", "check"])
    args = parser.parse_args(argv)
    if args.action == "check":
        return check()
    generate(CLIENT)
    print(f"wrote {', '.join(str(CLIENT / n) for n in GENERATED)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
