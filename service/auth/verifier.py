"""JWT verification of CDS client calls (CDS Hooks 2.0, "Trusting CDS Clients")."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from joserfc import jws
from joserfc.errors import JoseError

from service.auth import Principal
from service.auth.claims import TimeWindow, check_claims
from service.auth.jwks import JwksCache, JwksUnavailable
from service.auth.policy import SUPPORTED_ALGORITHMS, IssuerPolicy, VerificationKey
from service.auth.reasons import FailureReason
from service.auth.replay import ReplayCache, ReplayCacheUnavailable, replay_key
from service.auth.token import UnverifiedToken, parse_bearer
from service.errors import AuthenticationFailed
from service.observability.metrics import record_auth_failure

__all__ = ["JwtAuthenticator"]

logger = logging.getLogger(__name__)

MAX_KID_CHARS = 128  # real kids are UUIDs or thumbprints


class JwtAuthenticator:
    """Accepts a call only with a fresh, unreplayed JWT signed by a trusted CDS client for this URL.

    Checks run cheapest first and the signature before the replay cache, so unsigned garbage
    can neither trigger JWKS fetches for untrusted issuers nor fill the replay cache.
    """

    def __init__(
        self,
        policies: Mapping[str, IssuerPolicy],
        *,
        jwks: JwksCache,
        replay: ReplayCache,
        window: TimeWindow,
        max_token_bytes: int,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._policies = dict(policies)
        self._jwks = jwks
        self._replay = replay
        self._window = window
        self._max_token_bytes = max_token_bytes
        self._now = now

    async def authenticate(self, authorization: str | None, audience: str) -> Principal:
        """Return the verified caller or raise AuthenticationFailed (reason logged, never the token)."""
        try:
            return await self._verify(authorization, audience)
        except AuthenticationFailed as exc:
            record_auth_failure(str(exc.reason))
            logger.info("CDS client call refused: reason=%s", exc.reason)  # scanners are not incidents
            raise

    async def aclose(self) -> None:
        """Release the replay cache's connections."""
        await self._replay.aclose()

    async def _verify(self, authorization: str | None, audience: str) -> Principal:
        token = parse_bearer(authorization, max_bytes=self._max_token_bytes)
        alg, kid = _check_header(token)
        iss = token.claims.get("iss")
        policy = self._policies.get(iss) if isinstance(iss, str) else None
        if policy is None:
            raise AuthenticationFailed(FailureReason.ISSUER)
        if alg not in policy.algorithms:
            raise AuthenticationFailed(FailureReason.ALGORITHM)
        source = _key_source(token, policy, kid)
        exp = check_claims(
            token.claims, audience=audience, now=self._now(), window=self._window, tenant=policy.tenant
        )
        key = await self._key(policy, source, kid)
        try:
            jws.deserialize_compact(token.raw, key, algorithms=[alg])
        except (JoseError, ValueError, TypeError) as exc:
            raise AuthenticationFailed(FailureReason.SIGNATURE) from exc
        ttl = exp + self._window.leeway_s - self._now()
        try:
            first = await self._replay.first_use(replay_key(policy.iss, token.claims["jti"]), max(ttl, 1.0))
        except ReplayCacheUnavailable as exc:
            raise AuthenticationFailed(FailureReason.REPLAY_CACHE_UNAVAILABLE) from exc
        if not first:
            raise AuthenticationFailed(FailureReason.REPLAY)
        sub = token.claims.get("sub")  # check_claims made sure it is a string when present
        tenant = token.claims.get("tenant")
        return Principal(issuer=policy.iss, subject=sub, tenant=tenant if isinstance(tenant, str) else None)

    async def _key(self, policy: IssuerPolicy, url: str | None, kid: str) -> VerificationKey:
        if url is None:
            return policy.static_keys[kid]  # _key_source chose the pinned keys because kid is there
        try:
            key = await self._jwks.key(url, kid)
        except JwksUnavailable as exc:
            raise AuthenticationFailed(FailureReason.JWKS_UNAVAILABLE) from exc
        if key is None:
            raise AuthenticationFailed(FailureReason.UNKNOWN_KID)
        return key


def _key_source(token: UnverifiedToken, policy: IssuerPolicy, kid: str) -> str | None:
    """The JWKS URL to verify with, or None for the issuer's static (pinned) keys.

    Pinned keys win whatever the header's `jku` says: the signature is checked against them and
    the `jku` is never fetched (the CDS Hooks sandbox always sends one). Otherwise a `jku` must be
    allow-listed for the issuer, and a token without one uses the issuer's `jwks_url`.
    """
    if kid in policy.static_keys:
        return None
    jku = token.header.get("jku")
    if jku is not None:
        # Only allow-listed URLs are ever fetched: jku is attacker-controlled until verified.
        if not isinstance(jku, str) or jku not in policy.jku:
            raise AuthenticationFailed(FailureReason.UNKNOWN_KID if policy.static_keys else FailureReason.JKU)
        return jku
    if policy.jwks_url is not None:
        return policy.jwks_url
    if policy.static_keys:
        raise AuthenticationFailed(FailureReason.UNKNOWN_KID)
    raise AuthenticationFailed(FailureReason.JKU)  # this issuer's keys are only known through jku


def _check_header(token: UnverifiedToken) -> tuple[str, str]:
    header = token.header
    typ = header.get("typ")
    # RFC 7519 5.1: typ is a media type, compared case-insensitively.
    if not isinstance(typ, str) or typ.upper() != "JWT":
        raise AuthenticationFailed(FailureReason.TYP)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in SUPPORTED_ALGORITHMS:
        raise AuthenticationFailed(FailureReason.ALGORITHM)
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_CHARS:
        raise AuthenticationFailed(FailureReason.KID)
    return alg, kid
