"""Read a bearer JWT without trusting it: size, shape, header and claims as plain JSON."""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from typing import Any, NoReturn

from joserfc import jws
from joserfc.errors import JoseError

from service.auth.reasons import FailureReason
from service.errors import AuthenticationFailed

__all__ = ["UnverifiedToken", "parse_bearer", "strict_json"]


@dataclass(frozen=True, slots=True)
class UnverifiedToken:
    """A compact JWS split into header and claims; nothing here is trusted yet."""

    raw: str
    header: dict[str, Any]
    claims: dict[str, Any]


def _no_constant(name: str) -> NoReturn:
    # NaN, Infinity and -Infinity are not JSON (RFC 8259 section 6); Python accepts them by default.
    raise ValueError(f"non-standard JSON constant {name}")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 is valid JSON syntax but overflows to infinity
        raise ValueError("number out of range")
    return value


def strict_json(data: bytes | str) -> Any:
    """Parse RFC 8259 JSON only: no NaN/Infinity, no number that overflows a float.

    Raises ValueError (or RecursionError for absurd nesting). Integers stay exact; Python's own
    limit on integer digits bounds the cost of huge ones, and callers bound the values they use.
    """
    return json.loads(data, parse_constant=_no_constant, parse_float=_finite_float)


def _segment(text: str) -> Any:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("bad base64url segment") from exc
    return strict_json(raw)


def parse_bearer(authorization: str | None, *, max_bytes: int) -> UnverifiedToken:
    """Split `Authorization: Bearer <JWT>` into header and claims, or raise AuthenticationFailed."""
    if not authorization:
        raise AuthenticationFailed(FailureReason.MISSING)
    # Check the size before any parsing so a huge header costs nothing to refuse.
    if len(authorization) > max_bytes + len("Bearer "):
        raise AuthenticationFailed(FailureReason.OVERSIZED)
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationFailed(FailureReason.SCHEME)
    if len(token) > max_bytes:
        raise AuthenticationFailed(FailureReason.OVERSIZED)
    if token.count(".") != 2 or not token.isascii():
        raise AuthenticationFailed(FailureReason.MALFORMED)
    try:
        jws.extract_compact(token.encode("ascii"))  # the JWS structure as the verifier will read it
        # Header and claims parsed again, strictly: what is checked is what was signed, as JSON.
        head, body, _ = token.split(".")
        header = _segment(head)
        claims = _segment(body)
    # RecursionError: deeply nested JSON inside the token's size limit.
    except (JoseError, ValueError, TypeError, RecursionError) as exc:
        raise AuthenticationFailed(FailureReason.MALFORMED) from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise AuthenticationFailed(FailureReason.MALFORMED)
    return UnverifiedToken(raw=token, header=header, claims=claims)
