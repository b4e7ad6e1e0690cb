"""Secrets out of every text that leaves the process: log lines and recorded errors.

Exception messages are what an operator needs, but a library's message can
quote a request: its `Authorization` header, a bearer token, the API key.
Everything written to a log line or a run's error passes through `redact`,
which removes the configured secret values (`remember`) and anything shaped
like a credential.
"""

from __future__ import annotations

import re
import threading

__all__ = ["REDACTED", "redact", "remember"]

REDACTED = "[REDACTED]"

# A value shorter than this is not remembered: replacing it everywhere would
# mangle ordinary text, and no real credential is that short.
_MIN_SECRET_LENGTH = 8

# (pattern, replacement): a group 1 in the pattern is kept (the header or
# parameter name), the rest of the match is replaced.
_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    # An Authorization header or field, whatever its scheme: "Authorization: Bearer x",
    # "'authorization': 'Basic x'", "Proxy-Authorization=x".
    (
        re.compile(r"""(?i)(\b(?:proxy-)?authorization["']?\s*[:=]\s*["']?)[^"'\r\n,;}]+"""),
        rf"\1{REDACTED}",
    ),
    # A bearer token on its own.
    (re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]+"), rf"\1{REDACTED}"),
    # Key, token and password parameters: api_key=x, "x-api-key": "x", password: x.
    (
        re.compile(
            r"""(?i)(\b(?:x-)?(?:api[_-]?key|access[_-]?token|secret|password|client[_-]?secret)"""
            r"""["']?\s*[:=]\s*["']?)[^"'\s,;&}]+"""
        ),
        rf"\1{REDACTED}",
    ),
    # OpenAI-style keys (sk-..., sk-proj-...), Google API keys, JSON Web Tokens.
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), REDACTED),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"), REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
)

_lock = threading.Lock()
_known: tuple[str, ...] = ()


def remember(secret: str | None) -> None:
    """Redact this exact value from now on (the configured OpenAI key, say), whatever its shape."""
    global _known
    if not secret or len(secret) < _MIN_SECRET_LENGTH:
        return
    with _lock:
        if secret not in _known:
            # Longest first, so a secret containing another is removed whole.
            _known = tuple(sorted((*_known, secret), key=len, reverse=True))


def redact(text: str) -> str:
    for secret in _known:
        text = text.replace(secret, REDACTED)
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    return text
