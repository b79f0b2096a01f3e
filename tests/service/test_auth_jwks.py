"""JWKS cache: one fetch per interval whatever the tokens say, rotation picked up, failures survived."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import respx

from service.auth.jwks import MAX_JWKS_BYTES, JwksCache, JwksUnavailable
from tests.service.test_auth_ehr import SANDBOX_ISS, SANDBOX_JKU, Ehr, FakeClock, new_key


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache(client: httpx.AsyncClient, clock: FakeClock) -> JwksCache:
    return JwksCache(client, min_interval_s=60, max_age_s=3600, clock=clock)


@pytest.fixture
def ehr() -> Ehr:
    return Ehr(SANDBOX_ISS, jku=SANDBOX_JKU)


async def test_keys_are_fetched_once_and_cached(cache: JwksCache, ehr: Ehr) -> None:
    with respx.mock() as router:
        route = router.get(SANDBOX_JKU).respond(200, json=ehr.jwks())
        for _ in range(5):
            key = await cache.key(SANDBOX_JKU, ehr.kid)
            assert key is not None and key.as_dict()["x"] == ehr.key.as_dict()["x"]
        assert route.call_count == 1


async def test_unknown_kids_cannot_cause_a_fetch_storm(cache: JwksCache, ehr: Ehr, clock: FakeClock) -> None:
    with respx.mock() as router:
        route = router.get(SANDBOX_JKU).respond(200, json=ehr.jwks())
        for i in range(100):
            assert await cache.key(SANDBOX_JKU, f"made-up-{i}") is None
            clock.now += 0.5  # 50 seconds in all: still inside one refresh interval
        assert route.call_count == 1
        clock.now += 11
        assert await cache.key(SANDBOX_JKU, "made-up-again") is None
        assert route.call_count == 2  # one more after the interval, not one per token


async def test_concurrent_callers_share_one_fetch(cache: JwksCache, ehr: Ehr) -> None:
    async def slow_jwks(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)
        return httpx.Response(200, json=ehr.jwks())

    with respx.mock() as router:
        route = router.get(SANDBOX_JKU).mock(side_effect=slow_jwks)
        keys = await asyncio.gather(*(cache.key(SANDBOX_JKU, k) for k in [ehr.kid] * 20 + ["x"] * 20))
        assert route.call_count == 1
        assert sum(key is not None for key in keys) == 20


async def test_rotated_key_is_found_after_the_interval(cache: JwksCache, ehr: Ehr, clock: FakeClock) -> None:
    rotated = new_key("ES384", "ehr-key-2")
    with respx.mock() as router:
        route = router.get(SANDBOX_JKU)
        route.respond(200, json=ehr.jwks())
        assert await cache.key(SANDBOX_JKU, ehr.kid) is not None
        route.respond(200, json=ehr.jwks(rotated))
        assert await cache.key(SANDBOX_JKU, "ehr-key-2") is None  # too soon to fetch again
        clock.now += 61
        assert await cache.key(SANDBOX_JKU, "ehr-key-2") is not None
        assert route.call_count == 2


async def test_old_copies_are_refetched_so_withdrawn_keys_go(
    cache: JwksCache, ehr: Ehr, clock: FakeClock
) -> None:
    with respx.mock() as router:
        route = router.get(SANDBOX_JKU)
        route.respond(200, json=ehr.jwks())
        assert await cache.key(SANDBOX_JKU, ehr.kid) is not None
        route.respond(200, json={"keys": []})
        clock.now += 3601
        assert await cache.key(SANDBOX_JKU, ehr.kid) is None


async def test_last_good_copy_survives_a_failed_refresh(cache: JwksCache, ehr: Ehr, clock: FakeClock) -> None:
    with respx.mock() as router:
        route = router.get(SANDBOX_JKU)
        route.respond(200, json=ehr.jwks())
        assert await cache.key(SANDBOX_JKU, ehr.kid) is not None
        route.side_effect = httpx.ConnectError("down")
        clock.now += 3601
        assert await cache.key(SANDBOX_JKU, ehr.kid) is not None
        assert route.call_count == 2


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500),
        httpx.Response(302, headers={"Location": "https://attacker.example.net/jwks.json"}),
        httpx.Response(200, content=b"not json"),
        httpx.Response(200, json=["keys"]),
        httpx.Response(200, content=b"{" + b" " * (MAX_JWKS_BYTES + 10) + b"}"),
    ],
    ids=["500", "redirect", "not-json", "not-a-jwks", "too-large"],
)
async def test_unusable_responses_leave_nothing_cached(cache: JwksCache, response: httpx.Response) -> None:
    with respx.mock(assert_all_called=False) as router:
        router.get(SANDBOX_JKU).mock(return_value=response)
        router.get("https://attacker.example.net/jwks.json").respond(200, json={"keys": []})
        with pytest.raises(JwksUnavailable):
            await cache.key(SANDBOX_JKU, "k")
        assert len(router.calls) == 1  # redirects are not followed


async def test_timeouts_are_survived_and_rate_limited(cache: JwksCache, clock: FakeClock) -> None:
    with respx.mock() as router:
        route = router.get(SANDBOX_JKU).mock(side_effect=httpx.ReadTimeout("slow"))
        for _ in range(10):
            with pytest.raises(JwksUnavailable):
                await cache.key(SANDBOX_JKU, "k")
        assert route.call_count == 1
        clock.now += 61
        with pytest.raises(JwksUnavailable):
            await cache.key(SANDBOX_JKU, "k")
        assert route.call_count == 2


async def test_symmetric_private_and_broken_keys_are_skipped(cache: JwksCache, ehr: Ehr) -> None:
    private = {**ehr.key.as_dict(private=True), "kid": "with-private-part"}
    jwks = {
        "keys": [
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "EC", "kid": "broken", "crv": "P-384", "x": "AA", "y": "AA"},
            {**ehr.key.as_dict(private=False), "kid": "encryption", "use": "enc"},
            "not-a-key",
            private,
        ]
    }
    with respx.mock() as router:
        router.get(SANDBOX_JKU).respond(200, json=jwks)
        assert await cache.key(SANDBOX_JKU, "hmac") is None
        assert await cache.key(SANDBOX_JKU, "broken") is None
        assert await cache.key(SANDBOX_JKU, "encryption") is None
        usable = await cache.key(SANDBOX_JKU, "with-private-part")
        assert usable is not None and not usable.is_private  # the private part is dropped
