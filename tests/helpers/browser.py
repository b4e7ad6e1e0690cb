"""Where the browser tests find Chromium and keep their screenshots."""

from __future__ import annotations

from pathlib import Path

from devtools import REPO_ROOT

# The system's Chromium (Debian packages `chromium` and `chromium-driver`;
# `.ci/run` installs them), never a browser Playwright downloads.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Screenshots of the browser tests, kept as test artefacts (git-ignored).
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
