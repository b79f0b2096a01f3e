"""Read a bearer JWT without trusting it: size, shape, header and claims as plain JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError

from service.auth.reasons import FailureReason
from service.errors import AuthenticationFailed

__all__ = ["UnverifiedToken", "parse_bearer"]


@dataclass(frozen=True, slots=True)
class UnverifiedToken:
    """A compact JWS split into header and claims; nothing here is trusted yet."""

    raw: str
    header: dict[str, Any]
    claims: dict[str, Any]


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
        compact = jws.extract_compact(token.encode("ascii"))
        header = compact.headers()
        claims = json.loads(compact.payload)
    # RecursionError: deeply nested JSON inside the token's size limit.
    except (JoseError, ValueError, TypeError, RecursionError) as exc:
        raise AuthenticationFailed(FailureReason.MALFORMED) from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise AuthenticationFailed(FailureReason.MALFORMED)
    return UnverifiedToken(raw=token, header=header, claims=claims)
