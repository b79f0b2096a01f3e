"""The issuers' published keys: fetched with httpx, cached, and refreshed without fetch storms."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from service.auth.policy import VerificationKey, public_keys
from service.auth.token import strict_json

__all__ = ["JwksCache", "JwksUnavailable"]

logger = logging.getLogger(__name__)

MAX_JWKS_BYTES = 256 * 1024  # a JWKS is a few kilobytes; anything larger is refused
FETCH_TIMEOUT_S = 5.0


class JwksUnavailable(Exception):
    """The JWKS could not be fetched and no earlier copy is cached."""


@dataclass(slots=True)
class _Entry:
    keys: dict[str, VerificationKey] = field(default_factory=dict)
    fetched_at: float | None = None  # last successful fetch
    attempted_at: float | None = None  # last fetch attempt, successful or not
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class JwksCache:
    """Keys by (JWKS URL, kid).

    A URL is fetched when first needed, again when its copy is older than `max_age_s`, and again
    when a token names a kid it lacks, but never more than once per `min_interval_s`: tokens with
    made-up kids cost one fetch per interval at most. Concurrent callers share one fetch.
    Only URLs allow-listed in the settings ever reach this cache.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        min_interval_s: float,
        max_age_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._min_interval_s = min_interval_s
        self._max_age_s = max(max_age_s, min_interval_s)
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self.fetch_count = 0  # fetch attempts, for tests and diagnostics

    async def key(self, url: str, kid: str) -> VerificationKey | None:
        """The key `kid` published at `url`, or None; raise JwksUnavailable if nothing is cached."""
        entry = self._entries.setdefault(url, _Entry())
        if entry.fetched_at is None or self._clock() - entry.fetched_at >= self._max_age_s:
            await self._refresh(url, entry)
        if kid not in entry.keys:
            await self._refresh(url, entry)  # key rotation: the issuer may have published it since
        if entry.fetched_at is None:
            raise JwksUnavailable(url)
        return entry.keys.get(kid)

    async def _refresh(self, url: str, entry: _Entry) -> None:
        seen = entry.attempted_at
        async with entry.lock:
            if entry.attempted_at != seen:
                return  # another caller fetched while we waited for the lock
            now = self._clock()
            if entry.attempted_at is not None and now - entry.attempted_at < self._min_interval_s:
                return
            entry.attempted_at = now
            self.fetch_count += 1
            try:
                keys = await self._fetch(url)
            except (httpx.HTTPError, ValueError) as exc:
                # Keep serving the last good copy: a flaky JWKS host must not lock every EHR out.
                logger.warning("JWKS fetch failed for %s: %s", url, type(exc).__name__)
                return
            entry.keys = keys
            entry.fetched_at = self._clock()

    async def _fetch(self, url: str) -> dict[str, VerificationKey]:
        async with self._client.stream(
            "GET",
            url,
            headers={"Accept": "application/json, application/jwk-set+json"},
            timeout=FETCH_TIMEOUT_S,
            follow_redirects=False,
        ) as response:
            if response.status_code != 200:
                raise ValueError(f"status {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise ValueError("JWKS too large")
        try:
            document = strict_json(bytes(body))
        except RecursionError as exc:
            raise ValueError("JWKS nested too deeply") from exc
        return public_keys(document)
