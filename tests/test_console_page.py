"""The console document names the Cloud project its trace links go to, and only a real one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.http import console_page


@pytest.fixture(autouse=True)
def _unlinked() -> Iterator[None]:
    yield
    console_page.configure("demo-genjobs", "none")


def _meta(project: str, exporter: str) -> str:
    console_page.configure(project, exporter)
    body = console_page.page().get_data(as_text=True)
    start = body.index('<meta name="genjobs-trace-project"')
    return body[start : body.index(">", start) + 1]


def test_traces_exported_to_cloud_trace_of_a_real_project_are_linked():
    assert 'content="acme-prod"' in _meta("acme-prod", "cloud")


def test_traces_not_exported_to_cloud_trace_get_no_link():
    assert 'content=""' in _meta("acme-prod", "none")


def test_an_emulator_demo_project_gets_no_trace_links():
    assert 'content=""' in _meta("demo-genjobs-test", "cloud")
