"""The console document names the Cloud project its trace links go to, and only a real one."""

from __future__ import annotations

from shared.http import console_page


def _meta(project: str) -> str:
    console_page.configure(project)
    body = console_page.page().get_data(as_text=True)
    start = body.index('<meta name="genjobs-trace-project"')
    return body[start : body.index(">", start) + 1]


def test_a_cloud_project_is_named_for_trace_links():
    try:
        assert 'content="acme-prod"' in _meta("acme-prod")
    finally:
        console_page.configure("demo-genjobs")


def test_an_emulator_demo_project_gets_no_trace_links():
    assert 'content=""' in _meta("demo-genjobs-test")
