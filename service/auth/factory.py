"""Choose the authenticator for the settings: open in dev mode, JWT verification otherwise."""

from __future__ import annotations

import httpx

from service.auth import Authenticator, DevAuthenticator
from service.auth.claims import TimeWindow
from service.auth.jwks import JwksCache
from service.auth.policy import build_policies
from service.auth.replay import MemoryReplayCache, RedisReplayCache, ReplayCache
from service.auth.verifier import JwtAuthenticator
from service.errors import ConfigurationError
from service.settings import Settings

__all__ = ["build_authenticator"]


def build_authenticator(settings: Settings, client: httpx.AsyncClient) -> Authenticator:
    """DevAuthenticator in dev mode; JWT verification against the trusted issuers otherwise.

    `client` fetches the issuers' JWKS. Raises ConfigurationError when the issuers are unsafe or
    missing, so a misconfigured service stops at start-up instead of refusing every call.
    """
    if settings.dev:
        return DevAuthenticator()
    if not settings.trusted_issuers:
        raise ConfigurationError(
            "no trusted issuers: set TOXHOOKS_TRUSTED_ISSUERS (see docs/security.md) or run with --dev"
        )
    # Numeric limits and the replay cache across workers are checked by Settings itself.
    policies = build_policies(settings.trusted_issuers)
    replay: ReplayCache
    if settings.redis_url is not None:
        replay = RedisReplayCache.from_url(settings.redis_url.get_secret_value())
    else:
        replay = MemoryReplayCache()
    return JwtAuthenticator(
        policies,
        jwks=JwksCache(
            client,
            min_interval_s=settings.jwks_refresh_interval_s,
            max_age_s=settings.jwks_cache_ttl_s,
        ),
        replay=replay,
        window=TimeWindow(leeway_s=settings.jwt_leeway_s, max_lifetime_s=settings.jwt_max_lifetime_s),
        max_token_bytes=settings.max_token_bytes,
    )
