"""Who may call: the authenticator seam between the HTTP layer and JWT verification."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["Authenticator", "DevAuthenticator", "Principal"]


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified CDS client behind a call."""

    issuer: str
    subject: str | None = None
    tenant: str | None = None


class Authenticator(Protocol):
    """Verifies the Authorization header of a call to `audience` (the exact URL called)."""

    async def authenticate(self, authorization: str | None, audience: str) -> Principal:
        """Return the caller or raise service.errors.AuthenticationFailed."""
        ...

    async def aclose(self) -> None:
        """Release connections (e.g. the replay cache's Redis pool) at shutdown."""
        ...


class DevAuthenticator:
    """Development mode: every call is accepted as the anonymous developer."""

    async def authenticate(self, authorization: str | None, audience: str) -> Principal:
        """Accept without checking."""
        return Principal(issuer="dev")

    async def aclose(self) -> None:
        """Nothing to release."""
