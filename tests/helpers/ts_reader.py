"""clients/typescript/events.ts compiled by the pinned tsc and run by node, as a frontend runs it.

`compile_reader(into)` emits events.js (an ES module) and a driver,
`read.mjs API URL_PATH TOKEN`, which reads one stream with the reader and
prints each event it hands out as a JSON line (`{"id", "type", "data"}`);
a refusal the reader throws is printed to stderr and exits 3.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from devtools.typescript_client import CLIENT, _tool

_DRIVER = """\
import { readEvents, ApiError } from "./events.js";
const [api, path, token] = process.argv.slice(2);
try {
  for await (const event of readEvents(api + path, { token, retryMs: 100 })) {
    console.log(JSON.stringify(event));
  }
} catch (error) {
  console.error(error instanceof ApiError ? `ApiError ${error.status} ${error.code}` : error);
  process.exit(3);
}
"""


def compile_reader(into: Path) -> Path:
    """The folder holding events.js and read.mjs."""
    out = into / "out"
    config = {
        "extends": str(CLIENT / "tsconfig.json"),
        "compilerOptions": {"noEmit": False, "outDir": str(out), "rootDir": str(CLIENT)},
        "files": [str(CLIENT / "events.ts")],
    }
    (into / "tsconfig.json").write_text(json.dumps(config))
    subprocess.run([_tool("tsc"), "--project", str(into / "tsconfig.json")], check=True)
    (out / "package.json").write_text('{"type": "module"}')
    (out / "read.mjs").write_text(_DRIVER)
    return out
