"""JWT verification of CDS client calls: the interop tokens pass, every forgery is refused."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from service.auth import Principal
from service.auth.reasons import FailureReason
from service.auth.verifier import JwtAuthenticator
from service.errors import AuthenticationFailed
from service.settings import TrustedIssuer
from tests.service.test_auth_ehr import (
    DROP,
    EPIC_ISS,
    EPIC_JWKS_URL,
    NOW,
    SANDBOX_ISS,
    SANDBOX_JKU,
    SERVICE_URL,
    Ehr,
    hs256,
    make_verifier,
    new_key,
    unsigned,
)

OTHER_SERVICE_URL = "https://toxhooks.example.org/cds-services/toxhooks-patient-view"


@pytest.fixture
def epic() -> Ehr:
    return Ehr(EPIC_ISS, alg="RS384", kid="epic-2026-1")


@pytest.fixture
def issuers(sandbox: Ehr, epic: Ehr) -> list[TrustedIssuer]:
    return [
        TrustedIssuer(iss=SANDBOX_ISS, jku=[SANDBOX_JKU]),
        TrustedIssuer(iss=EPIC_ISS, jwks_url=EPIC_JWKS_URL, tenant="ONC-HOSPITAL"),
    ]


@pytest.fixture
def keys_online(sandbox: Ehr, epic: Ehr) -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        router.get(SANDBOX_JKU).respond(200, json=sandbox.jwks())
        router.get(EPIC_JWKS_URL).respond(200, json=epic.jwks())
        yield router


@pytest.fixture
def verifier(
    issuers: list[TrustedIssuer], client: httpx.AsyncClient, keys_online: respx.MockRouter
) -> JwtAuthenticator:
    return make_verifier(issuers, client)


def epic_claims(**overrides: Any) -> dict[str, Any]:
    """Epic's claims: it adds sub (its client id) and nbf, and a tenant when configured."""
    return {"sub": "epic-client-7f3a", "nbf": int(NOW), "tenant": "ONC-HOSPITAL", **overrides}


async def refused(verifier: JwtAuthenticator, authorization: str | None, audience: str = SERVICE_URL) -> str:
    with pytest.raises(AuthenticationFailed) as caught:
        await verifier.authenticate(authorization, audience)
    assert caught.value.status_code == 401
    assert caught.value.message == "authentication failed"  # nothing that helps an attacker
    return str(caught.value.reason)


# -- interop ---------------------------------------------------------------------------------


async def test_sandbox_token_es384_with_jku_is_accepted(verifier: JwtAuthenticator, sandbox: Ehr) -> None:
    principal = await verifier.authenticate(sandbox.bearer(), SERVICE_URL)
    assert principal == Principal(issuer=SANDBOX_ISS, subject=None, tenant=None)


async def test_epic_token_rs384_with_sub_and_nbf_is_accepted(verifier: JwtAuthenticator, epic: Ehr) -> None:
    principal = await verifier.authenticate(epic.bearer(**epic_claims()), SERVICE_URL)
    assert principal == Principal(issuer=EPIC_ISS, subject="epic-client-7f3a", tenant="ONC-HOSPITAL")


async def test_epic_token_naming_its_jwks_in_jku_is_accepted(client: httpx.AsyncClient, epic: Ehr) -> None:
    verifier = make_verifier([TrustedIssuer(iss=EPIC_ISS, jku=[EPIC_JWKS_URL], algorithms=["RS384"])], client)
    with respx.mock() as router:
        router.get(EPIC_JWKS_URL).respond(200, json=epic.jwks())
        token = epic.bearer(header={"jku": EPIC_JWKS_URL}, **epic_claims(tenant=DROP))
        assert (await verifier.authenticate(token, SERVICE_URL)).subject == "epic-client-7f3a"


async def test_audience_may_be_an_array_naming_this_url(verifier: JwtAuthenticator, sandbox: Ehr) -> None:
    token = sandbox.bearer(aud=[OTHER_SERVICE_URL, SERVICE_URL])
    assert (await verifier.authenticate(token, SERVICE_URL)).issuer == SANDBOX_ISS


async def test_static_jwks_from_a_file(client: httpx.AsyncClient, epic: Ehr, tmp_path: Any) -> None:
    path = tmp_path / "epic-jwks.json"
    path.write_text(json.dumps(epic.jwks()))
    verifier = make_verifier([TrustedIssuer(iss=EPIC_ISS, jwks_file=path, algorithms=["RS384"])], client)
    with respx.mock(assert_all_mocked=True) as router:  # any fetch would fail: there must be none
        principal = await verifier.authenticate(epic.bearer(**epic_claims(tenant=DROP)), SERVICE_URL)
        assert not router.calls
    assert principal.subject == "epic-client-7f3a"


async def test_inline_static_jwks(client: httpx.AsyncClient, epic: Ehr) -> None:
    verifier = make_verifier([TrustedIssuer(iss=EPIC_ISS, jwks=epic.jwks())], client)
    assert (await verifier.authenticate(epic.bearer(), SERVICE_URL)).issuer == EPIC_ISS


@pytest.mark.parametrize("alg", ["ES256", "RS256", "PS384"])
async def test_configurable_algorithms(client: httpx.AsyncClient, alg: str) -> None:
    ehr = Ehr(EPIC_ISS, alg=alg)
    allowed = make_verifier([TrustedIssuer(iss=EPIC_ISS, jwks=ehr.jwks(), algorithms=[alg])], client)
    assert (await allowed.authenticate(ehr.bearer(), SERVICE_URL)).issuer == EPIC_ISS
    default = make_verifier([TrustedIssuer(iss=EPIC_ISS, jwks=ehr.jwks())], client)
    assert await refused(default, ehr.bearer()) == FailureReason.ALGORITHM


async def test_clock_skew_within_leeway_is_tolerated(verifier: JwtAuthenticator, epic: Ehr) -> None:
    token = epic.bearer(**epic_claims(iat=int(NOW) + 30, nbf=int(NOW) + 30, exp=int(NOW) - 30))
    assert (await verifier.authenticate(token, SERVICE_URL)).issuer == EPIC_ISS


# -- rejections ------------------------------------------------------------------------------


async def test_expired(verifier: JwtAuthenticator, sandbox: Ehr) -> None:
    token = sandbox.bearer(iat=int(NOW) - 600, exp=int(NOW) - 61)
    assert await refused(verifier, token) == FailureReason.EXPIRED


async def test_not_yet_valid_nbf(verifier: JwtAuthenticator, epic: Ehr) -> None:
    token = epic.bearer(**epic_claims(nbf=int(NOW) + 120))
    assert await refused(verifier, token) == FailureReason.NOT_YET_VALID


async def test_issued_in_the_future(verifier: JwtAuthenticator, sandbox: Ehr) -> None:
    token = sandbox.bearer(iat=int(NOW) + 120, exp=int(NOW) + 400)
    assert await refused(verifier, token) == FailureReason.NOT_YET_VALID


async def test_lifetime_longer_than_allowed(verifier: JwtAuthenticator, sandbox: Ehr) -> None:
    token = sandbox.bearer(exp=int(NOW) + 30 * 86400)
    assert await refused(verifier, token) == FailureReason.LIFETIME


async def test_wrong_audience(verifier: JwtAuthenticator, sandbox: Ehr) -> None:
    token = sandbox.bearer("https://attacker.example.net/cds-services/toxhooks-order-sign")
    assert await refused(verifier, token) == FailureReason.AUDIENCE


async def test_audience_of_another_service(verifier: JwtAuthenticator, sandbox: Ehr) -> None:
    assert await refused(verifier, sandbox.bearer(OTHER_SERVICE_URL)) == FailureReason.AUDIENCE


@pytest.mark.parametrize(
    "called",
    [SERVICE_URL + "/", SERVICE_URL.upper(), SERVICE_URL.replace("https", "http"), SERVICE_URL + "?x=1"],
)
async def test_audience_must_match_exactly(verifier: JwtAuthenticator, sandbox: Ehr, called: str) -> None:
    assert await refused(verifier, sandbox.bearer(), audience=called) == FailureReason.AUDIENCE


@pytest.mark.parametrize("aud", [[], [1], {"url": SERVICE_URL}, 7])
async def test_audience_of_the_wrong_type(verifier: JwtAuthenticator, sandbox: Ehr, aud: Any) -> None:
    assert await refused(verifier, sandbox.bearer(aud=aud)) == FailureReason.AUDIENCE


async def test_unknown_issuer(verifier: JwtAuthenticator, client: httpx.AsyncClient) -> None:
    stranger = Ehr("https://ehr.attacker.example.net", jku=SANDBOX_JKU)
    assert await refused(verifier, stranger.bearer()) == FailureReason.ISSUER


async def test_issuer_not_a_string(verifier: JwtAuthenticator, sandbox: Ehr) -> None:
    assert await refused(verifier, sandbox.bearer(iss=[SANDBOX_ISS])) == FailureReason.ISSUER


async def test_jku_not_allowed_for_the_issuer(
    verifier: JwtAuthenticator, sandbox: Ehr, keys_online: respx.MockRouter
) -> None:
    evil = "https://attacker.example.net/jwks.json"
    route = keys_online.get(evil).respond(200, json=sandbox.jwks())
    token = sandbox.bearer(header={"jku": evil})
    assert await refused(verifier, token) == FailureReason.JKU
    assert not route.called  # never fetched


async def test_jku_of_another_trusted_issuer_is_not_allowed(verifier: JwtAuthenticator, epic: Ehr) -> None:
    token = epic.bearer(header={"jku": SANDBOX_JKU}, **epic_claims())
    assert await refused(verifier, token) == FailureReason.JKU


async def test_no_key_source_without_jku(verifier: JwtAuthenticator, sandbox: Ehr) -> None:
    # The sandbox issuer is configured with jku only: a token without one names no trusted keys.
    assert await refused(verifier, sandbox.bearer(header={"jku": DROP})) == FailureReason.JKU


async def test_alg_none(verifier: JwtAuthenticator, sandbox: Ehr) -> None:
    token = unsigned(sandbox.header(alg="none"), sandbox.claims())
    assert await refused(verifier, f"Bearer {token}") == FailureReason.ALGORITHM


@pytest.mark.parametrize("alg", ["NONE", "None", "HS384", "HS512", "ES512", "EdDSA", ""])
async def test_other_disallowed_algorithms(verifier: JwtAuthenticator, sandbox: Ehr, alg: str) -> None:
    token = unsigned(sandbox.header(alg=alg), sandbox.claims(), b"x" * 64)
    assert await refused(verifier, f"Bearer {token}") == FailureReason.ALGORITHM


async def test_hs256_with_the_public_key_as_secret(verifier: JwtAuthenticator, epic: Ehr) -> None:
    for secret in (
        epic.key.as_pem(private=False),
        json.dumps(epic.jwks()["keys"][0]).encode(),
    ):
        token = hs256(epic.header(alg="HS256"), epic.claims(**epic_claims()), secret)
        assert await refused(verifier, f"Bearer {token}") == FailureReason.ALGORITHM


async def test_algorithm_switch_within_the_allow_list_is_refused(
    verifier: JwtAuthenticator, epic: Ehr
) -> None:
    # RS384 key, header claims ES384: the key type does not fit the algorithm.
    token = unsigned(epic.header(alg="ES384"), epic.claims(**epic_claims()), b"\x00" * 96)
    assert await refused(verifier, f"Bearer {token}") == FailureReason.SIGNATURE


async def test_unknown_kid(verifier: JwtAuthenticator, sandbox: Ehr, keys_online: respx.MockRouter) -> None:
    assert await refused(verifier, sandbox.bearer(header={"kid": "no-such-key"})) == FailureReason.UNKNOWN_KID
    assert keys_online.routes[0].call_count == 1  # one fetch; the refresh is rate limited


@pytest.mark.parametrize("kid", [DROP, "", 17, "k" * 200])
async def test_missing_or_unusable_kid(verifier: JwtAuthenticator, sandbox: Ehr, kid: Any) -> None:
    # Header checks come before the signature, so a hand-made token is enough here.
    token = unsigned(sandbox.header(kid=kid), sandbox.claims(), b"\0" * 96)
    assert await refused(verifier, f"Bearer {token}") == FailureReason.KID


@pytest.mark.parametrize("typ", [DROP, "at+jwt", "JOSE", 1])
async def test_wrong_typ(verifier: JwtAuthenticator, sandbox: Ehr, typ: Any) -> None:
    token = unsigned(sandbox.header(typ=typ), sandbox.claims(), b"\0" * 96)
    assert await refused(verifier, f"Bearer {token}") == FailureReason.TYP


async def test_lowercase_typ_is_the_same_media_type(verifier: JwtAuthenticator, sandbox: Ehr) -> None:
    assert (await verifier.authenticate(sandbox.bearer(header={"typ": "jwt"}), SERVICE_URL)).issuer


async def test_bad_signature_from_another_key_with_the_same_kid(
    verifier: JwtAuthenticator, sandbox: Ehr
) -> None:
    impostor = new_key("ES384", sandbox.kid)
    assert await refused(verifier, sandbox.bearer(key=impostor)) == FailureReason.SIGNATURE


async def test_tampered_claims_break_the_signature(verifier: JwtAuthenticator, sandbox: Ehr) -> None:
    head, _, signature = sandbox.token().split(".")
    forged = unsigned(sandbox.header(), sandbox.claims(sub="admin")).split(".")[1]
    assert await refused(verifier, f"Bearer {head}.{forged}.{signature}") == FailureReason.SIGNATURE


async def test_replayed_jti(verifier: JwtAuthenticator, sandbox: Ehr) -> None:
    token = sandbox.bearer()
    await verifier.authenticate(token, SERVICE_URL)
    assert await refused(verifier, token) == FailureReason.REPLAY


async def test_same_jti_in_a_new_token_is_a_replay(verifier: JwtAuthenticator, sandbox: Ehr) -> None:
    await verifier.authenticate(sandbox.bearer(jti="same"), SERVICE_URL)
    assert await refused(verifier, sandbox.bearer(jti="same", iat=int(NOW) + 1)) == FailureReason.REPLAY


async def test_jti_is_scoped_per_issuer(verifier: JwtAuthenticator, sandbox: Ehr, epic: Ehr) -> None:
    await verifier.authenticate(sandbox.bearer(jti="shared-id"), SERVICE_URL)
    principal = await verifier.authenticate(epic.bearer(jti="shared-id", **epic_claims()), SERVICE_URL)
    assert principal.issuer == EPIC_ISS


async def test_a_refused_token_does_not_burn_its_jti(verifier: JwtAuthenticator, sandbox: Ehr) -> None:
    # An attacker who saw a jti must not be able to block the genuine token with a forgery.
    forged = sandbox.bearer(jti="victim", key=new_key("ES384", sandbox.kid))
    assert await refused(verifier, forged) == FailureReason.SIGNATURE
    assert (await verifier.authenticate(sandbox.bearer(jti="victim"), SERVICE_URL)).issuer == SANDBOX_ISS


@pytest.mark.parametrize("claim", ["iss", "aud", "exp", "iat", "jti"])
async def test_missing_claims(verifier: JwtAuthenticator, sandbox: Ehr, claim: str) -> None:
    expected = FailureReason.ISSUER if claim == "iss" else FailureReason.CLAIMS
    assert await refused(verifier, sandbox.bearer(**{claim: DROP})) == expected


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": "soon"},
        {"exp": True},
        {"iat": None},
        {"nbf": "now"},
        {"jti": 5},
        {"jti": "j" * 300},
        {"sub": 9},
    ],
)
async def test_claims_of_the_wrong_type(verifier: JwtAuthenticator, sandbox: Ehr, claims: Any) -> None:
    assert await refused(verifier, sandbox.bearer(**claims)) == FailureReason.CLAIMS


async def test_wrong_or_missing_tenant(verifier: JwtAuthenticator, epic: Ehr) -> None:
    assert await refused(verifier, epic.bearer(**epic_claims(tenant="OTHER"))) == FailureReason.TENANT
    assert await refused(verifier, epic.bearer(**epic_claims(tenant=DROP))) == FailureReason.TENANT


async def test_oversized_token(verifier: JwtAuthenticator, sandbox: Ehr) -> None:
    token = sandbox.bearer(padding="x" * 20_000)
    assert await refused(verifier, token) == FailureReason.OVERSIZED


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (None, FailureReason.MISSING),
        ("", FailureReason.MISSING),
        ("Basic dXNlcjpwYXNz", FailureReason.SCHEME),
        ("Bearer", FailureReason.SCHEME),
        ("Bearer ", FailureReason.SCHEME),
        ("Bearer a.b", FailureReason.MALFORMED),
        ("Bearer a.b.c.d", FailureReason.MALFORMED),
        ("Bearer !!!.???.###", FailureReason.MALFORMED),
        ("Bearer é.é.é", FailureReason.MALFORMED),
        ("Bearer " + "x" * 20_000, FailureReason.OVERSIZED),
    ],
)
async def test_malformed_authorization(
    verifier: JwtAuthenticator, authorization: str | None, reason: str
) -> None:
    assert await refused(verifier, authorization) == reason


async def test_header_and_claims_must_be_json_objects(verifier: JwtAuthenticator, sandbox: Ehr) -> None:
    from tests.service.test_auth_ehr import b64url

    for head, body in [([1], {}), (sandbox.header(), [1]), (sandbox.header(), "x")]:
        token = f"{b64url(json.dumps(head).encode())}.{b64url(json.dumps(body).encode())}.AAAA"
        assert await refused(verifier, f"Bearer {token}") == FailureReason.MALFORMED
    deep = b64url(b"[" * 5000 + b"]" * 5000)
    assert await refused(verifier, f"Bearer {b64url(json.dumps(sandbox.header()).encode())}.{deep}.AA") == (
        FailureReason.MALFORMED
    )


async def test_jwks_down_and_nothing_cached(client: httpx.AsyncClient, sandbox: Ehr) -> None:
    verifier = make_verifier([TrustedIssuer(iss=SANDBOX_ISS, jku=[SANDBOX_JKU])], client)
    with respx.mock() as router:
        router.get(SANDBOX_JKU).respond(503)
        assert await refused(verifier, sandbox.bearer()) == FailureReason.JWKS_UNAVAILABLE


# -- what leaves the verifier ----------------------------------------------------------------


async def test_failures_are_logged_and_counted_without_the_token(
    verifier: JwtAuthenticator,
    sandbox: Ehr,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counted: list[str] = []
    monkeypatch.setattr("service.auth.verifier.record_auth_failure", counted.append)
    token = sandbox.token(OTHER_SERVICE_URL)
    with caplog.at_level(logging.DEBUG):
        await refused(verifier, f"Bearer {token}")
    assert counted == ["audience"]
    assert "reason=audience" in caplog.text
    for part in token.split("."):
        assert part not in caplog.text


async def test_successful_calls_are_not_counted_as_failures(
    verifier: JwtAuthenticator, sandbox: Ehr, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted: list[str] = []
    monkeypatch.setattr("service.auth.verifier.record_auth_failure", counted.append)
    await verifier.authenticate(sandbox.bearer(), SERVICE_URL)
    assert counted == []
