"""Pinned (static) keys: used whatever the token's `jku` says, and that `jku` is never fetched."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import respx

from service.auth.reasons import FailureReason
from service.errors import AuthenticationFailed
from service.settings import TrustedIssuer
from tests.service.test_auth_ehr import SANDBOX_ISS, SANDBOX_JKU, SERVICE_URL, Ehr, make_verifier, new_key

ATTACKER_JKU = "https://keys.attacker.example.net/jwks.json"


async def refused(verifier: object, authorization: str) -> str:
    with pytest.raises(AuthenticationFailed) as caught:
        await verifier.authenticate(authorization, SERVICE_URL)  # type: ignore[attr-defined]
    return str(caught.value.reason)


async def test_pinned_jwks_accepts_the_sandbox_token_without_fetching_its_jku(
    client: httpx.AsyncClient, sandbox: Ehr
) -> None:
    verifier = make_verifier([TrustedIssuer(iss=SANDBOX_ISS, jwks=sandbox.jwks())], client)
    with respx.mock(assert_all_mocked=True) as router:  # any fetch would fail: there must be none
        assert "jku" in sandbox.header()
        principal = await verifier.authenticate(sandbox.bearer(), SERVICE_URL)
        assert not router.calls
    assert principal.issuer == SANDBOX_ISS


async def test_pinned_jwks_ignores_any_jku_even_an_attackers(client: httpx.AsyncClient, sandbox: Ehr) -> None:
    verifier = make_verifier([TrustedIssuer(iss=SANDBOX_ISS, jwks=sandbox.jwks())], client)
    with respx.mock(assert_all_mocked=True) as router:
        # Signed with the pinned key: accepted, the header's URL plays no part.
        ok = sandbox.bearer(header={"jku": ATTACKER_JKU})
        assert (await verifier.authenticate(ok, SERVICE_URL)).issuer == SANDBOX_ISS
        # Same kid, signed by the attacker's key published at their jku: the pinned key says no.
        forged = sandbox.bearer(header={"jku": ATTACKER_JKU}, key=new_key("ES384", sandbox.kid))
        assert await refused(verifier, forged) == FailureReason.SIGNATURE
        # A kid that is not pinned, with the attacker's jku: refused without a fetch.
        other = Ehr(SANDBOX_ISS, kid="attacker-key", jku=ATTACKER_JKU)
        assert await refused(verifier, other.bearer()) == FailureReason.UNKNOWN_KID
        assert not router.calls


async def test_pinned_jwks_from_a_file_with_jku_header(
    client: httpx.AsyncClient, sandbox: Ehr, tmp_path: Path
) -> None:
    path = tmp_path / "sandbox-jwks.json"
    path.write_text(json.dumps(sandbox.jwks()))
    verifier = make_verifier([TrustedIssuer(iss=SANDBOX_ISS, jwks_file=path)], client)
    with respx.mock(assert_all_mocked=True) as router:
        assert (await verifier.authenticate(sandbox.bearer(), SERVICE_URL)).issuer == SANDBOX_ISS
        assert not router.calls


async def test_allow_listed_jku_stays_the_other_path(client: httpx.AsyncClient, sandbox: Ehr) -> None:
    """An issuer with pinned keys and an allowed jku: a kid not pinned is fetched from that jku only."""
    pinned = Ehr(SANDBOX_ISS, kid="pinned-1")
    verifier = make_verifier([TrustedIssuer(iss=SANDBOX_ISS, jwks=pinned.jwks(), jku=[SANDBOX_JKU])], client)
    with respx.mock(assert_all_mocked=True) as router:
        route = router.get(SANDBOX_JKU).respond(200, json=sandbox.jwks())
        # Pinned kid: no fetch.
        assert (await verifier.authenticate(pinned.bearer(header={"jku": SANDBOX_JKU}), SERVICE_URL)).issuer
        assert route.call_count == 0
        # Rotated key, published at the allow-listed jku: fetched and accepted.
        assert (await verifier.authenticate(sandbox.bearer(), SERVICE_URL)).issuer == SANDBOX_ISS
        assert route.call_count == 1
        # Unpinned kid with a jku that is not allow-listed: refused, never fetched.
        stray = Ehr(SANDBOX_ISS, kid="stray", jku=ATTACKER_JKU)
        assert await refused(verifier, stray.bearer()) == FailureReason.UNKNOWN_KID
        assert [call.request.url for call in router.calls] == [SANDBOX_JKU]


async def test_jku_only_issuer_still_refuses_an_unlisted_jku(client: httpx.AsyncClient, sandbox: Ehr) -> None:
    verifier = make_verifier([TrustedIssuer(iss=SANDBOX_ISS, jku=[SANDBOX_JKU])], client)
    with respx.mock(assert_all_mocked=True) as router:
        assert await refused(verifier, sandbox.bearer(header={"jku": ATTACKER_JKU})) == FailureReason.JKU
        assert not router.calls
