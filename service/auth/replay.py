"""Remember each token's jti for its lifetime so a captured token cannot be sent twice."""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # redis is imported only when a Redis URL is configured (start-up time)
    import redis.asyncio as aioredis

__all__ = ["MemoryReplayCache", "RedisReplayCache", "ReplayCache", "ReplayCacheUnavailable", "replay_key"]


class ReplayCacheUnavailable(Exception):
    """The cache cannot answer; callers refuse the token rather than risk a replay."""


class ReplayCache(Protocol):
    """Records token ids; `first_use` is atomic so two replicas cannot both accept one jti."""

    async def first_use(self, key: str, ttl_s: float) -> bool:
        """True and remember `key` for `ttl_s` seconds if unseen; False if seen and unexpired."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def replay_key(issuer: str, jti: str) -> str:
    """A fixed-length cache key for (issuer, jti): jti values are only unique per issuer."""
    # JSON encoding keeps the pair unambiguous whatever characters either part holds.
    digest = hashlib.sha256(json.dumps([issuer, jti]).encode()).hexdigest()
    return f"toxhooks:jti:{digest}"


class MemoryReplayCache:
    """One process's replay cache; correct only with a single replica."""

    def __init__(self, *, max_entries: int = 1_000_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_entries = max_entries
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._expiry)

    async def first_use(self, key: str, ttl_s: float) -> bool:
        """See ReplayCache.first_use."""
        if not math.isfinite(ttl_s):
            raise ReplayCacheUnavailable("non-finite lifetime")  # a NaN expiry would never be purged
        now = self._clock()
        self._purge(now)
        expires = self._expiry.get(key)
        if expires is not None and expires > now:
            return False
        if len(self._expiry) >= self._max_entries:
            # Evicting live entries would reopen replays; refuse instead (fail closed).
            raise ReplayCacheUnavailable("replay cache full")
        self._expiry[key] = now + ttl_s
        heapq.heappush(self._heap, (now + ttl_s, key))
        return True

    async def aclose(self) -> None:
        """Nothing to release."""

    def _purge(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            expires, key = heapq.heappop(self._heap)
            if self._expiry.get(key) == expires:
                del self._expiry[key]


class RedisReplayCache:
    """Replay cache shared by every replica through Redis (SET NX with an expiry)."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client

    @classmethod
    def from_url(cls, url: str) -> RedisReplayCache:
        """Connect lazily to the Redis server at `url`."""
        import redis.asyncio as aioredis

        return cls(aioredis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0))

    async def first_use(self, key: str, ttl_s: float) -> bool:
        """See ReplayCache.first_use."""
        from redis.exceptions import RedisError

        if not math.isfinite(ttl_s):
            # The verifier bounds exp, so this is a bug upstream: refuse the token, never a 500.
            raise ReplayCacheUnavailable("non-finite lifetime")
        try:
            stored = await self._client.set(key, b"1", nx=True, px=max(1, int(ttl_s * 1000)))
        except (RedisError, OSError) as exc:
            raise ReplayCacheUnavailable(type(exc).__name__) from exc
        return bool(stored)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
