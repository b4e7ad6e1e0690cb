"""Local tooling: emulators, the local stack, provisioning, test servers, bundling, checks."""

from pathlib import Path

# The repository root, for tools and tests that read or run files in it.
REPO_ROOT = Path(__file__).resolve().parent.parent
