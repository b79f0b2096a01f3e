"""Numbers in tokens: huge integers, NaN/Infinity and overflowing floats are a bare 401, never a 500."""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from joserfc import jws

from service.app import create_app
from service.auth.claims import MAX_NUMERIC_DATE
from service.auth.reasons import FailureReason
from service.auth.replay import MemoryReplayCache, RedisReplayCache, ReplayCacheUnavailable
from service.auth.token import strict_json
from service.auth.verifier import JwtAuthenticator
from service.errors import AuthenticationFailed
from service.settings import Settings, TrustedIssuer
from tests.service.test_auth_ehr import NOW, SANDBOX_ISS, SANDBOX_JKU, SERVICE_URL, Ehr, b64url, make_verifier

HUGE = "1" + "0" * 400  # 10^400: a valid JSON integer that no float can hold
TIME_CLAIMS = ("exp", "iat", "nbf")
# Literal JSON text for a claim value: what the attack suite sent.
BAD_NUMBERS = {
    "huge-int": HUGE,
    "huge-negative-int": "-" + HUGE,
    "overflowing-float": "1e400",
    "NaN": "NaN",
    "Infinity": "Infinity",
    "-Infinity": "-Infinity",
    "year-10000": str(MAX_NUMERIC_DATE + 1),
    "negative": "-1",
}
BARE_401 = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "error", "code": "login", "diagnostics": "authentication failed"}],
}


def raw_token(ehr: Ehr, claim: str, literal: str, *, signed: bool = True, audience: str = SERVICE_URL) -> str:
    """A token whose `claim` is the JSON text `literal`, signed by `ehr` (or with a junk signature)."""
    claims = ehr.claims(audience)
    claims[claim] = "__VALUE__"
    payload = json.dumps(claims).replace('"__VALUE__"', literal).encode()
    if signed:
        return jws.serialize_compact(ehr.header(), payload, ehr.key, algorithms=[ehr.alg])
    head = b64url(json.dumps(ehr.header()).encode())
    return f"{head}.{b64url(payload)}.{b64url(b'not-a-signature')}"


@pytest.fixture
async def verifier() -> AsyncIterator[tuple[JwtAuthenticator, Ehr]]:
    sandbox = Ehr(SANDBOX_ISS, jku=SANDBOX_JKU)
    async with httpx.AsyncClient() as client:
        with respx.mock(assert_all_called=False) as router:
            router.get(SANDBOX_JKU).respond(200, json=sandbox.jwks())
            yield make_verifier([TrustedIssuer(iss=SANDBOX_ISS, jku=[SANDBOX_JKU])], client), sandbox


async def reason(verifier: JwtAuthenticator, token: str) -> str:
    with pytest.raises(AuthenticationFailed) as caught:
        await verifier.authenticate(f"Bearer {token}", SERVICE_URL)
    assert caught.value.status_code == 401 and caught.value.message == "authentication failed"
    return str(caught.value.reason)


@pytest.mark.parametrize("claim", TIME_CLAIMS)
@pytest.mark.parametrize("literal", BAD_NUMBERS.values(), ids=BAD_NUMBERS.keys())
@pytest.mark.parametrize("signed", [True, False], ids=["signed", "forged"])
async def test_bad_number_in_a_time_claim_is_refused(
    verifier: tuple[JwtAuthenticator, Ehr], claim: str, literal: str, signed: bool
) -> None:
    authenticator, sandbox = verifier
    got = await reason(authenticator, raw_token(sandbox, claim, literal, signed=signed))
    # Non-JSON constants are a malformed token; valid JSON numbers outside the NumericDate range
    # are a bad claim. Either way no signature is checked and nothing reaches the replay cache.
    assert got in {FailureReason.MALFORMED, FailureReason.CLAIMS}


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
async def test_non_json_numbers_are_refused_anywhere_in_the_token(
    verifier: tuple[JwtAuthenticator, Ehr], literal: str
) -> None:
    authenticator, sandbox = verifier
    assert await reason(authenticator, raw_token(sandbox, "sub", literal)) == FailureReason.MALFORMED
    header = json.dumps({**sandbox.header(), "x-extra": "__V__"}).replace('"__V__"', literal)
    token = f"{b64url(header.encode())}.{b64url(json.dumps(sandbox.claims()).encode())}.AAAA"
    assert await reason(authenticator, token) == FailureReason.MALFORMED


async def test_a_nan_expiry_cannot_be_replayed(verifier: tuple[JwtAuthenticator, Ehr]) -> None:
    """The field report: `exp: NaN` never expired and the memory cache let it be reused."""
    authenticator, sandbox = verifier
    token = raw_token(sandbox, "exp", "NaN")
    for _ in range(3):
        assert await reason(authenticator, token) == FailureReason.MALFORMED


async def test_times_at_the_bounds_still_work(verifier: tuple[JwtAuthenticator, Ehr]) -> None:
    authenticator, sandbox = verifier
    # Fractional NumericDates are allowed by RFC 7519.
    token = raw_token(sandbox, "exp", repr(NOW + 299.5))
    assert (await authenticator.authenticate(f"Bearer {token}", SERVICE_URL)).issuer == SANDBOX_ISS
    # The latest NumericDate accepted is a real (if distant) time: refused for its lifetime only.
    late = raw_token(sandbox, "exp", str(MAX_NUMERIC_DATE))
    assert await reason(authenticator, late) == FailureReason.LIFETIME


@pytest.mark.parametrize("literal", ["null", '"1900000000"', "true", "[1900000000]", '{"t": 1900000000}'])
@pytest.mark.parametrize("claim", TIME_CLAIMS)
async def test_a_time_claim_that_is_not_a_number_is_refused(
    verifier: tuple[JwtAuthenticator, Ehr], claim: str, literal: str
) -> None:
    authenticator, sandbox = verifier
    assert await reason(authenticator, raw_token(sandbox, claim, literal)) == FailureReason.CLAIMS


def test_strict_json_refuses_what_rfc_8259_does_not_define() -> None:
    for text in ('{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}', '{"a": 1e400}', '{"a": -1e400}'):
        with pytest.raises(ValueError):
            strict_json(text)
    assert strict_json('{"a": 1.5e3, "b": ' + HUGE + "}") == {"a": 1500.0, "b": 10**400}


class _RecordingRedis:
    """Stands in for redis.asyncio.Redis: records the SET calls."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def set(self, key: str, value: bytes, **kwargs: Any) -> bool:
        self.calls.append(kwargs)
        return True

    async def aclose(self) -> None:
        return None


@pytest.mark.parametrize("ttl", [float("nan"), float("inf"), float("-inf")])
async def test_replay_caches_refuse_a_non_finite_lifetime(ttl: float) -> None:
    redis = _RecordingRedis()
    with pytest.raises(ReplayCacheUnavailable):
        await RedisReplayCache(redis).first_use("k", ttl)  # type: ignore[arg-type]
    assert redis.calls == []
    with pytest.raises(ReplayCacheUnavailable):
        await MemoryReplayCache().first_use("k", ttl)


# -- through the HTTP app: bare 401, no traceback in the log --------------------------------

BASE = "https://toxhooks.example.org"
PATH = "/cds-services/toxhooks-patient-view"


async def app_client(tmp_path: Path, **values: Any) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        trusted_issuers=[TrustedIssuer(iss=SANDBOX_ISS, jku=[SANDBOX_JKU])],
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'toxhooks.db'}",
        log_json=False,
        **values,
    )
    async with httpx.AsyncClient() as outbound:
        app = create_app(settings, http_client=outbound)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
                yield client


def _redis_url() -> str | None:
    return os.environ.get("TOXHOOKS_TEST_REDIS_URL")


@pytest.mark.parametrize(
    "replay", ["memory", pytest.param("redis", marks=pytest.mark.redis)], ids=["memory-cache", "redis-cache"]
)
@pytest.mark.parametrize("claim", TIME_CLAIMS)
@pytest.mark.parametrize("literal", [HUGE, "NaN", "Infinity", "1e400"], ids=["huge", "NaN", "Inf", "1e400"])
async def test_http_bad_time_claim_is_a_bare_401_without_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, replay: str, claim: str, literal: str
) -> None:
    values: dict[str, Any] = {}
    if replay == "redis":
        if not _redis_url():
            pytest.skip("TOXHOOKS_TEST_REDIS_URL is not set")
        values["redis_url"] = _redis_url()
    sandbox = Ehr(SANDBOX_ISS, jku=SANDBOX_JKU)
    with respx.mock(assert_all_called=False) as router:
        router.get(SANDBOX_JKU).respond(200, json=sandbox.jwks())
        router.route(host="127.0.0.1").pass_through()  # the test Redis server
        router.route(host="localhost").pass_through()
        with caplog.at_level(logging.DEBUG):
            async for client in app_client(tmp_path, **values):
                for signed in (True, False):
                    token = raw_token(sandbox, claim, literal, signed=signed, audience=BASE + PATH)
                    body = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()), "context": {}}
                    headers = {"Authorization": f"Bearer {token}"}
                    response = await client.post(PATH, json=body, headers=headers)
                    assert response.status_code == 401, response.text
                    assert response.json() == BARE_401
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
