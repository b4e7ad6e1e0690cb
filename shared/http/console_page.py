"""GET /console: the operator's page, served by the api itself (same origin, no CORS).

The page is plain HTML, CSS and JavaScript (`shared/http/console/`), no build
step. They are served as one document with the style and script inline, so
the page is one request wherever the api is mounted, and a strict Content
Security Policy allows exactly those two blocks (by hash) and calls to this
origin only. The page itself needs no token; every data call it makes sends
the token the user gave it.

The run page links a run's trace to Cloud Trace when spans go there
(TRACE_EXPORTER=cloud) from a real Google Cloud project (not an emulator's
`demo-` project): the project id travels in a `<meta>` tag, which the
policy's hashes do not cover.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html as markup
from pathlib import Path

from flask import Response

ASSETS = Path(__file__).with_name("console")
STYLE_SLOT = "/* console.css */"
SCRIPT_SLOT = "/* console.js */"
PROJECT_SLOT = 'content="" data-slot="trace-project"'
# Google's convention for projects that exist only in the emulators.
DEMO_PREFIX = "demo-"

_trace_project: str | None = None


def configure(project: str, trace_exporter: str) -> None:
    """Where runs' traces are: linked only if exported to Cloud Trace of a real project."""
    global _trace_project
    linked = trace_exporter == "cloud" and not project.startswith(DEMO_PREFIX)
    _trace_project = project if linked else None


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@functools.cache
def _document(trace_project: str | None) -> tuple[bytes, str]:
    """The page and its Content-Security-Policy, built once per process (and project)."""
    html = (ASSETS / "index.html").read_text(encoding="utf-8")
    style = (ASSETS / "console.css").read_text(encoding="utf-8")
    script = (ASSETS / "console.js").read_text(encoding="utf-8")
    if STYLE_SLOT not in html or SCRIPT_SLOT not in html or PROJECT_SLOT not in html:
        raise RuntimeError("console/index.html lost its style, script or project slot")
    project = markup.escape(trace_project or "", quote=True)
    page = (
        html.replace(PROJECT_SLOT, f'content="{project}"')
        .replace(STYLE_SLOT, style)
        .replace(SCRIPT_SLOT, script)
    )
    policy = "; ".join(
        [
            "default-src 'none'",
            f"script-src {_sha256(script)}",
            f"style-src {_sha256(style)}",
            "connect-src 'self'",
            "img-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return page.encode("utf-8"), policy


def page() -> Response:
    body, policy = _document(_trace_project)
    return Response(
        body,
        status=200,
        mimetype="text/html",
        # nosniff and Cache-Control come from the route table (routing.answer_headers).
        headers={"Content-Security-Policy": policy, "Referrer-Policy": "no-referrer"},
    )
