"""Scrubbing of credentials from log text: JWTs, bearer tokens and secret-named fields."""

from __future__ import annotations

import re

__all__ = ["REDACTED", "is_secret_key", "redact"]

REDACTED = "[REDACTED]"

# A compact JWS/JWE: base64url JSON header ("eyJ" is '{"'), then 1 to 4 more dot-separated parts.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){1,4}")
# "Bearer <anything token-like>" in an Authorization header echoed into a message.
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
# key=value or "key": "value" pairs whose key names a credential.
_SECRET_PAIR = re.compile(
    r"""(?ix)
    (["']?(?:access_token|refresh_token|id_token|token|authorization|fhirAuthorization|
        password|passwd|secret|client_secret|api_key|apikey)["']?\s*[:=]\s*)
    ("[^"]*"|'[^']*'|[^\s,;&}]+)
    """
)
# A password inside a connection URL: scheme://user:password@host.
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s/]+(@)", re.IGNORECASE)

# One cheap search decides whether the four substitutions below are needed at all: most log
# lines (access lines, counts, categories) contain none of these markers.
_MAYBE_SECRET = re.compile(r"eyJ|://|bearer|basic|token|authoriz|passw|secret|api_?key", re.IGNORECASE)

_SECRET_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "jwt",
        "authorization",
        "fhirauthorization",
        "password",
        "secret",
        "client_secret",
        "api_key",
        "database_url",
        "redis_url",
    }
)


def is_secret_key(key: str) -> bool:
    """Whether a structured log field of this name must never carry its value."""
    return key.lower().replace("-", "_") in _SECRET_KEYS


def redact(text: str) -> str:
    """The text with anything that looks like a credential replaced by a marker."""
    if not text or _MAYBE_SECRET.search(text) is None:
        return text
    text = _JWT.sub(REDACTED, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _SECRET_PAIR.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(2)}", text)
