"""clients/typescript: the committed types are openapi-typescript's output for today's document.

Needs `npm ci` in clients/typescript (`make test` and `make clients` do it);
without it these tests fail, naming the command.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from devtools import typescript_client
from devtools.typescript_client import CLIENT, GENERATED, generate, stale_files


def test_the_committed_document_and_types_are_current(tmp_path: Path):
    generate(tmp_path)

    assert stale_files(tmp_path) == [], "run `make clients` and commit clients/typescript"


def test_a_stale_copy_is_reported_with_a_diff(tmp_path: Path):
    fresh, committed = tmp_path / "fresh", tmp_path / "committed"
    fresh.mkdir()
    committed.mkdir()
    generate(fresh)
    for name in GENERATED:
        shutil.copyfile(fresh / name, committed / name)
    types = committed / "api.d.ts"
    types.write_text(types.read_text().replace("sessionId: string;", "sessionId: number;", 1))

    (diff,) = stale_files(fresh, committed)

    assert "-            sessionId: number;" in diff
    assert "+            sessionId: string;" in diff


def test_the_api_docs_example_type_checks_against_the_types():
    api_docs = (CLIENT.parent.parent / "docs" / "api.md").read_text()
    (shown,) = re.findall(r"```ts\n(.*?)```", api_docs, re.DOTALL)
    assert shown in (CLIENT / "example.ts").read_text()
    typescript_client.typecheck_example()  # tsc --noEmit, strict; raises on a type error


def test_the_readmes_live_output_example_is_the_type_checked_one():
    readme = (CLIENT.parent.parent / "README.md").read_text()
    (shown,) = re.findall(r"```ts\n(.*?)```", readme, re.DOTALL)
    # Type-checked with the rest: tsconfig.json lists events.ts and events-example.ts,
    # and the test above runs tsc on it.
    assert shown in (CLIENT / "events-example.ts").read_text()
