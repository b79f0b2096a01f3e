"""Replay caches: a jti is accepted once per lifetime, in one process (memory) or across replicas (Redis)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from service.auth.claims import TimeWindow
from service.auth.jwks import JwksCache
from service.auth.policy import build_policies
from service.auth.reasons import FailureReason
from service.auth.replay import (
    MemoryReplayCache,
    RedisReplayCache,
    ReplayCache,
    ReplayCacheUnavailable,
    replay_key,
)
from service.auth.verifier import JwtAuthenticator
from service.errors import AuthenticationFailed
from service.settings import TrustedIssuer
from tests.service.test_auth_ehr import EPIC_ISS, NOW, SERVICE_URL, Ehr, FakeClock


def test_replay_key_is_fixed_length_and_scoped_per_issuer() -> None:
    a = replay_key("https://ehr-a.example.org", "1")
    assert a == replay_key("https://ehr-a.example.org", "1")
    assert a != replay_key("https://ehr-b.example.org", "1")
    # No choice of characters makes two different (issuer, jti) pairs share a key.
    assert replay_key("a", "b\x00c") != replay_key("a\x00b", "c")
    assert len(replay_key("i", "j" * 10_000)) == len(a)


async def test_memory_cache_accepts_once_then_forgets_after_the_ttl() -> None:
    clock = FakeClock()
    cache = MemoryReplayCache(clock=clock)
    assert await cache.first_use("k", 300)
    assert not await cache.first_use("k", 300)
    clock.now += 299
    assert not await cache.first_use("k", 300)
    clock.now += 2
    assert await cache.first_use("k", 300)


async def test_memory_cache_purges_expired_entries() -> None:
    clock = FakeClock()
    cache = MemoryReplayCache(clock=clock)
    for i in range(100):
        await cache.first_use(f"k{i}", 10)
    assert len(cache) == 100
    clock.now += 11
    await cache.first_use("fresh", 10)
    assert len(cache) == 1


async def test_memory_cache_full_fails_closed() -> None:
    clock = FakeClock()
    cache = MemoryReplayCache(max_entries=3, clock=clock)
    for key in "abc":
        assert await cache.first_use(key, 60)
    with pytest.raises(ReplayCacheUnavailable):
        await cache.first_use("d", 60)
    assert not await cache.first_use("a", 60)  # nothing was evicted to make room
    clock.now += 61
    assert await cache.first_use("d", 60)


@pytest.fixture
async def redis_cache() -> AsyncIterator[RedisReplayCache]:
    url = os.environ.get("TOXHOOKS_TEST_REDIS_URL")
    if not url:
        pytest.skip("TOXHOOKS_TEST_REDIS_URL is not set")
    cache = RedisReplayCache.from_url(url)
    try:
        await cache.first_use(f"toxhooks:test:{uuid.uuid4()}", 1)
    except ReplayCacheUnavailable:
        await cache.aclose()
        pytest.skip("the Redis server named by TOXHOOKS_TEST_REDIS_URL is unreachable")
    yield cache
    await cache.aclose()


@pytest.mark.redis
async def test_redis_cache_accepts_once_then_forgets(redis_cache: RedisReplayCache) -> None:
    key = replay_key("https://ehr.example.org", str(uuid.uuid4()))
    assert await redis_cache.first_use(key, 0.3)
    assert not await redis_cache.first_use(key, 0.3)
    await asyncio.sleep(0.5)
    assert await redis_cache.first_use(key, 0.3)


@pytest.mark.redis
async def test_redis_cache_is_shared_by_replicas(redis_cache: RedisReplayCache) -> None:
    url = os.environ["TOXHOOKS_TEST_REDIS_URL"]
    other_replica = RedisReplayCache.from_url(url)
    try:
        key = replay_key("https://ehr.example.org", str(uuid.uuid4()))
        results = await asyncio.gather(
            *(cache.first_use(key, 60) for cache in [redis_cache, other_replica] * 10)
        )
        assert results.count(True) == 1  # atomic: exactly one replica accepts the token
    finally:
        await other_replica.aclose()


async def test_redis_unreachable_fails_closed() -> None:
    cache: ReplayCache = RedisReplayCache.from_url("redis://127.0.0.1:1/0")  # nothing listens on port 1
    try:
        with pytest.raises(ReplayCacheUnavailable):
            await cache.first_use("k", 60)
    finally:
        await cache.aclose()


@pytest.mark.redis
async def test_a_token_accepted_by_one_replica_is_refused_by_another(redis_cache: RedisReplayCache) -> None:
    ehr = Ehr(EPIC_ISS, alg="RS384")
    policies = build_policies([TrustedIssuer(iss=EPIC_ISS, jwks=ehr.jwks())])
    other_cache = RedisReplayCache.from_url(os.environ["TOXHOOKS_TEST_REDIS_URL"])
    async with httpx.AsyncClient() as client:
        replicas = [
            JwtAuthenticator(
                policies,
                jwks=JwksCache(client, min_interval_s=60, max_age_s=3600),
                replay=cache,
                window=TimeWindow(leeway_s=60, max_lifetime_s=3600),
                max_token_bytes=16_384,
                now=lambda: NOW,
            )
            for cache in (redis_cache, other_cache)
        ]
        token = ehr.bearer()
        try:
            assert (await replicas[0].authenticate(token, SERVICE_URL)).issuer == EPIC_ISS
            with pytest.raises(AuthenticationFailed) as caught:
                await replicas[1].authenticate(token, SERVICE_URL)
            assert caught.value.reason == FailureReason.REPLAY
        finally:
            await other_cache.aclose()
