"""Why a call was refused: the categories that reach logs and metrics (never the token)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["FailureReason"]


class FailureReason(StrEnum):
    """Category of an authentication failure; safe to log and to use as a metric label."""

    MISSING = "missing"  # no Authorization header
    SCHEME = "scheme"  # not "Bearer <token>"
    OVERSIZED = "oversized"  # token longer than max_token_bytes
    MALFORMED = "malformed"  # not a compact JWS with JSON header and claims
    TYP = "typ"  # header typ is not JWT
    ALGORITHM = "algorithm"  # alg not allow-listed (none, HMAC, or not configured for the issuer)
    KID = "kid"  # header has no usable kid
    ISSUER = "issuer"  # iss is not a trusted CDS client
    JKU = "jku"  # jku not allowed for the issuer, or no key source for the token
    CLAIMS = "claims"  # a required claim is missing or has the wrong type
    AUDIENCE = "audience"  # aud does not name the URL that was called
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"  # nbf or iat in the future
    LIFETIME = "lifetime"  # exp too far after iat
    TENANT = "tenant"
    UNKNOWN_KID = "unknown-kid"  # no key with that kid, even after a refresh
    JWKS_UNAVAILABLE = "jwks-unavailable"  # the issuer's JWKS could not be fetched
    SIGNATURE = "signature"  # the signature does not verify with the issuer's key
    REPLAY = "replay"  # jti already seen within the token lifetime
    REPLAY_CACHE_UNAVAILABLE = "replay-cache-unavailable"  # fail closed when Redis is down
