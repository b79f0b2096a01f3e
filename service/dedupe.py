"""Cards already shown at order-select, so order-sign does not show them again (with a TTL).

In memory for one process; in Redis when a Redis URL is configured, so that replicas behind a
load balancer agree. A Redis failure shows the card again: a repeat is better than a hidden one.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # redis is imported only when a Redis URL is configured (start-up time)
    import redis.asyncio as aioredis

__all__ = ["MemoryShownCards", "RedisShownCards", "ShownCardsStore", "shown_cards_store"]

log = logging.getLogger(__name__)


def _patient(patient_id: str) -> str:
    """The patient id is kept only as a hash."""
    return hashlib.sha256(patient_id.encode()).hexdigest()


class ShownCardsStore(Protocol):
    """(patient, dedupe key) pairs seen recently."""

    async def recent(self, patient_id: str) -> frozenset[str]:
        """The keys shown for this patient within the TTL."""
        ...

    async def remember(self, patient_id: str, keys: Iterable[str]) -> None:
        """Note that these cards were shown for this patient now."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class MemoryShownCards:
    """In-process store; bounded, oldest entries dropped first when full."""

    def __init__(
        self, ttl_s: float = 3600.0, clock: Callable[[], float] = time.monotonic, limit: int = 100_000
    ):
        self._ttl = ttl_s
        self._clock = clock
        self._limit = limit
        self._seen: dict[tuple[str, str], float] = {}

    async def recent(self, patient_id: str) -> frozenset[str]:
        """The keys shown for this patient within the TTL."""
        now, patient = self._clock(), _patient(patient_id)
        return frozenset(k for (p, k), expires in self._seen.items() if p == patient and expires > now)

    async def remember(self, patient_id: str, keys: Iterable[str]) -> None:
        """Note that these cards were shown for this patient now."""
        now, patient = self._clock(), _patient(patient_id)
        if len(self._seen) >= self._limit:
            self._evict(now)
        for key in keys:
            self._seen.pop((patient, key), None)  # re-insert: dict order is age order
            self._seen[(patient, key)] = now + self._ttl

    async def aclose(self) -> None:
        """Nothing to release."""

    def _evict(self, now: float) -> None:
        for pair in [p for p, expires in self._seen.items() if expires <= now]:
            del self._seen[pair]
        while len(self._seen) >= self._limit:  # still full of live entries: drop the oldest
            del self._seen[next(iter(self._seen))]


class RedisShownCards:
    """Shared store: one sorted set per patient hash, scored by expiry time."""

    PREFIX = "toxhooks:shown:"

    def __init__(
        self, client: aioredis.Redis, ttl_s: float = 3600.0, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._ttl = ttl_s
        self._clock = clock

    @classmethod
    def from_url(cls, url: str, ttl_s: float) -> RedisShownCards:
        """A store on the Redis server at `url`."""
        import redis.asyncio as aioredis

        return cls(aioredis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5), ttl_s)

    async def recent(self, patient_id: str) -> frozenset[str]:
        """The keys shown for this patient within the TTL (none when Redis does not answer)."""
        from redis.exceptions import RedisError

        try:
            found = await self._client.zrangebyscore(
                self.PREFIX + _patient(patient_id), self._clock(), "+inf"
            )
        except RedisError as exc:
            log.warning("shown-cards store unavailable (%s): cards may repeat", type(exc).__name__)
            return frozenset()
        return frozenset(k.decode() if isinstance(k, bytes) else str(k) for k in found)

    async def remember(self, patient_id: str, keys: Iterable[str]) -> None:
        """Note that these cards were shown for this patient now."""
        now, name = self._clock(), self.PREFIX + _patient(patient_id)
        mapping = {key: now + self._ttl for key in keys}
        if not mapping:
            return
        from redis.exceptions import RedisError

        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.zadd(name, mapping)
                pipe.zremrangebyscore(name, "-inf", now)
                pipe.expire(name, int(self._ttl) + 1)
                await pipe.execute()
        except RedisError as exc:
            log.warning("shown-cards store unavailable (%s): cards may repeat", type(exc).__name__)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()


def shown_cards_store(ttl_s: float, redis_url: str | None = None) -> ShownCardsStore:
    """The store for the settings: Redis when a URL is configured, else in memory."""
    if redis_url:
        return RedisShownCards.from_url(redis_url, ttl_s)
    return MemoryShownCards(ttl_s=ttl_s)
