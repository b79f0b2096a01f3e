"""The registered claims of a CDS client JWT: presence, types, audience, time window, tenant."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from service.auth.reasons import FailureReason
from service.errors import AuthenticationFailed

__all__ = ["TimeWindow", "check_claims"]

MAX_JTI_CHARS = 256
# NumericDate bounds: 0 (1970) to 9999-12-31T23:59:59Z. Anything outside is not a real time and,
# for huge integers, would not even convert to a float (OverflowError).
MAX_NUMERIC_DATE = 253_402_300_799


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Clock-skew tolerance and the longest token lifetime accepted."""

    leeway_s: float
    max_lifetime_s: float


def _time(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    # bool is an int in Python; `"exp": true` is not a time.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AuthenticationFailed(FailureReason.CLAIMS)
    # Compare before converting: float(10**400) raises, and NaN compares false with everything.
    if not (0 <= value <= MAX_NUMERIC_DATE) or (isinstance(value, float) and not math.isfinite(value)):
        raise AuthenticationFailed(FailureReason.CLAIMS)
    return float(value)


def _text(claims: dict[str, Any], name: str, *, required: bool) -> str | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise AuthenticationFailed(FailureReason.CLAIMS)
    return value


def check_claims(
    claims: dict[str, Any], *, audience: str, now: float, window: TimeWindow, tenant: str | None
) -> float:
    """Check every claim except the signature-bound jti replay; return the expiry time (`exp`)."""
    _text(claims, "iss", required=True)
    jti = _text(claims, "jti", required=True)
    if jti is not None and len(jti) > MAX_JTI_CHARS:
        raise AuthenticationFailed(FailureReason.CLAIMS)
    _text(claims, "sub", required=False)
    exp = _time(claims, "exp")
    iat = _time(claims, "iat")
    # Optional, but when present it is a NumericDate: `"nbf": null` is as malformed as a string.
    nbf = _time(claims, "nbf") if "nbf" in claims else None

    aud = claims.get("aud")
    if isinstance(aud, str):
        audiences = [aud]
    elif isinstance(aud, list) and aud and all(isinstance(item, str) for item in aud):
        audiences = aud
    else:
        raise AuthenticationFailed(FailureReason.CLAIMS if aud is None else FailureReason.AUDIENCE)
    # The exact URL called: a token minted for another service or host is worthless here.
    if audience not in audiences:
        raise AuthenticationFailed(FailureReason.AUDIENCE)

    if exp <= now - window.leeway_s:
        raise AuthenticationFailed(FailureReason.EXPIRED)
    if (nbf is not None and nbf > now + window.leeway_s) or iat > now + window.leeway_s:
        raise AuthenticationFailed(FailureReason.NOT_YET_VALID)
    if exp - iat > window.max_lifetime_s:
        raise AuthenticationFailed(FailureReason.LIFETIME)

    if tenant is not None and claims.get("tenant") != tenant:
        raise AuthenticationFailed(FailureReason.TENANT)
    return exp
