"""Choose the authenticator for the settings (STUB: dev mode only until JWT verification lands)."""

from __future__ import annotations

import httpx

from service.auth import Authenticator, DevAuthenticator
from service.errors import ConfigurationError
from service.settings import Settings

__all__ = ["build_authenticator"]


def build_authenticator(settings: Settings, client: httpx.AsyncClient) -> Authenticator:
    """DevAuthenticator in dev mode; JWT verification against the trusted issuers otherwise."""
    if settings.dev:
        return DevAuthenticator()
    raise ConfigurationError("JWT verification is not available yet; run with --dev")
