"""Serve one function as functions-framework does, with Cloud Run's short shutdown grace.

On Cloud Run, the Python functions buildpack starts an instance with the
`functions-framework` command (FUNCTION_TARGET set; GoogleCloudPlatform/
buildpacks, `cmd/python/functions_framework`): it imports the entry point
(`create_app`), then builds and runs its gunicorn server (`create_server`).
This does the same two calls, so the api's `main.py` installs its server
settings (`shared.http.server.install`: header limits, slow senders, JSON
refusals) here exactly as there. One difference: `python -m
functions_framework` runs gunicorn with its default 30 s graceful timeout:
told to stop while a request waits on an emulator that is already gone, it
keeps the port for half a minute. Cloud Run gives an instance 10 s after
SIGTERM; locally the pieces get GRACE_SECONDS, so a stopped stack is gone
within seconds. `cloud_command` is the launch as Cloud Run's runtime does
it, for the tests that check the two agree.
"""

from __future__ import annotations

import argparse
import sys

from devtools import REPO_ROOT

GRACE_SECONDS = 5


def command(target: str, port: int) -> list[str]:
    return [sys.executable, "-m", "devtools.function_server", target, str(port)]


def cloud_command(target: str, port: int) -> list[str]:
    """The `functions-framework` command line as Cloud Run's Python runtime runs it."""
    source = REPO_ROOT / "functions" / target / "main.py"
    return [
        sys.executable,
        "-m",
        "functions_framework",
        f"--target={target}",
        f"--source={source}",
        "--host=127.0.0.1",
        f"--port={port}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("target", choices=["api", "worker"])
    parser.add_argument("port", type=int)
    args = parser.parse_args(argv)
    # Here, not at the top: `make dev`'s supervisor imports this module for
    # `command` alone, and Flask and gunicorn are most of a second of its CPU.
    from functions_framework import create_app
    from functions_framework._http import create_server

    app = create_app(args.target, str(REPO_ROOT / "functions" / args.target / "main.py"))  # type: ignore[no-untyped-call]
    server = create_server(app, False, graceful_timeout=GRACE_SECONDS)  # type: ignore[no-untyped-call]
    server.run("127.0.0.1", args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
