"""Choosing and configuring the authenticator: unsafe settings stop start-up with a clear message."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from service.auth import DevAuthenticator
from service.auth.factory import build_authenticator
from service.auth.replay import MemoryReplayCache, RedisReplayCache
from service.auth.verifier import JwtAuthenticator
from service.errors import AuthenticationFailed, ConfigurationError
from service.settings import Settings, TrustedIssuer
from tests.service.test_auth_ehr import EPIC_ISS, SANDBOX_ISS, SANDBOX_JKU, SERVICE_URL, Ehr


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


async def test_dev_mode_accepts_without_a_token(client: httpx.AsyncClient) -> None:
    authenticator = build_authenticator(settings(dev=True), client)
    assert isinstance(authenticator, DevAuthenticator)
    assert (await authenticator.authenticate(None, SERVICE_URL)).issuer == "dev"


def test_production_without_issuers_refuses_to_start(client: httpx.AsyncClient) -> None:
    with pytest.raises(ConfigurationError, match="TOXHOOKS_TRUSTED_ISSUERS"):
        build_authenticator(settings(), client)


async def test_configured_issuer_verifies_real_tokens(client: httpx.AsyncClient) -> None:
    sandbox = Ehr(SANDBOX_ISS, jku=SANDBOX_JKU)
    now = int(time.time())
    authenticator = build_authenticator(
        settings(trusted_issuers=[TrustedIssuer(iss=SANDBOX_ISS, jku=[SANDBOX_JKU])]), client
    )
    assert isinstance(authenticator, JwtAuthenticator)
    with respx.mock() as router:
        router.get(SANDBOX_JKU).respond(200, json=sandbox.jwks())
        principal = await authenticator.authenticate(sandbox.bearer(iat=now, exp=now + 300), SERVICE_URL)
        assert principal.issuer == SANDBOX_ISS
        with pytest.raises(AuthenticationFailed):
            await authenticator.authenticate(None, SERVICE_URL)
    await authenticator.aclose()


def test_issuers_from_the_environment(client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    issuers = [
        {"iss": SANDBOX_ISS, "jku": [SANDBOX_JKU]},
        {"iss": EPIC_ISS, "jwks_url": "https://e.example/k"},
    ]
    monkeypatch.setenv("TOXHOOKS_TRUSTED_ISSUERS", json.dumps(issuers))
    assert isinstance(build_authenticator(Settings(), client), JwtAuthenticator)


def test_replay_cache_follows_the_redis_setting(client: httpx.AsyncClient) -> None:
    issuers = [TrustedIssuer(iss=SANDBOX_ISS, jku=[SANDBOX_JKU])]
    memory = build_authenticator(settings(trusted_issuers=issuers), client)
    assert isinstance(memory, JwtAuthenticator) and isinstance(memory._replay, MemoryReplayCache)
    shared = build_authenticator(
        settings(trusted_issuers=issuers, redis_url=SecretStr("redis://127.0.0.1:6379/15")), client
    )
    assert isinstance(shared, JwtAuthenticator) and isinstance(shared._replay, RedisReplayCache)


def test_several_workers_need_redis() -> None:
    issuers = [TrustedIssuer(iss=SANDBOX_ISS, jku=[SANDBOX_JKU])]
    with pytest.raises(ValueError, match="REDIS_URL"):
        settings(trusted_issuers=issuers, workers=2)
    assert settings(trusted_issuers=issuers, workers=2, redis_url=SecretStr("redis://r:6379/0")).workers == 2


@pytest.mark.parametrize(
    ("name", "value"),
    [("jwt_leeway_s", -1), ("jwt_max_lifetime_s", 0), ("max_token_bytes", 0), ("jwks_cache_ttl_s", 0),
     ("jwks_refresh_interval_s", 0), ("fhir_max_pages", 0), ("port", 70000)],
)  # fmt: skip
def test_unsafe_limits_are_refused_by_the_settings(name: str, value: int) -> None:
    with pytest.raises(ValueError, match=name):
        settings(**{name: value})


@pytest.mark.parametrize(
    ("issuer", "message"),
    [
        ({"iss": SANDBOX_ISS}, "configure 'jku'"),
        ({"iss": SANDBOX_ISS, "jku": [SANDBOX_JKU], "algorithms": ["HS256"]}, "not allowed"),
        ({"iss": SANDBOX_ISS, "jku": [SANDBOX_JKU], "algorithms": ["none"]}, "not allowed"),
        ({"iss": SANDBOX_ISS, "jku": [SANDBOX_JKU], "algorithms": []}, "empty"),
        ({"iss": SANDBOX_ISS, "jku": ["http://sandbox.cds-hooks.org/jwks.json"]}, "https"),
        ({"iss": SANDBOX_ISS, "jwks_url": "ftp://x/jwks"}, "https"),
        ({"iss": SANDBOX_ISS, "jwks": {"keys": [{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}]}}, "no usable"),
        ({"iss": SANDBOX_ISS, "jwks": {"not": "a jwks"}}, "keys"),
        ({"iss": ""}, "empty 'iss'"),
    ],
)
def test_unsafe_issuers_refuse_to_start(
    client: httpx.AsyncClient, issuer: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        build_authenticator(settings(trusted_issuers=[TrustedIssuer(**issuer)]), client)


def test_duplicate_issuer_refuses_to_start(client: httpx.AsyncClient) -> None:
    twice = [TrustedIssuer(iss=SANDBOX_ISS, jku=[SANDBOX_JKU])] * 2
    with pytest.raises(ConfigurationError, match="twice"):
        build_authenticator(settings(trusted_issuers=twice), client)


def test_unreadable_jwks_file_names_the_file(client: httpx.AsyncClient, tmp_path: Path) -> None:
    missing = tmp_path / "absent.json"
    with pytest.raises(ConfigurationError, match=r"absent\.json"):
        build_authenticator(
            settings(trusted_issuers=[TrustedIssuer(iss=EPIC_ISS, jwks_file=missing)]), client
        )
    garbled = tmp_path / "garbled.json"
    garbled.write_text("{not json")
    with pytest.raises(ConfigurationError, match=r"garbled\.json"):
        build_authenticator(
            settings(trusted_issuers=[TrustedIssuer(iss=EPIC_ISS, jwks_file=garbled)]), client
        )


def test_loopback_http_jwks_is_allowed_for_local_testing(client: httpx.AsyncClient) -> None:
    local = [TrustedIssuer(iss="http://127.0.0.1:3000", jku=["http://127.0.0.1:3000/jwks.json"])]
    assert isinstance(build_authenticator(settings(trusted_issuers=local), client), JwtAuthenticator)
