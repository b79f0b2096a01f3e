"""Hypothesis against the verifier: random and mutated tokens are refused with a 401, never an exception."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.auth.reasons import FailureReason
from service.auth.verifier import JwtAuthenticator
from service.errors import AuthenticationFailed
from service.settings import TrustedIssuer
from tests.service.test_auth_ehr import SANDBOX_ISS, SANDBOX_JKU, SERVICE_URL, Ehr, b64url, make_verifier

EXAMPLES = 300
SANDBOX = Ehr(SANDBOX_ISS, jku=SANDBOX_JKU)


@pytest.fixture
def verify() -> Iterator[Any]:
    """A sync entry point to one verifier living in one event loop, with the sandbox's JWKS online."""
    with asyncio.Runner() as runner, respx.mock(assert_all_called=False) as router:
        router.get(SANDBOX_JKU).respond(200, json=SANDBOX.jwks())
        client = httpx.AsyncClient()
        verifier: JwtAuthenticator = make_verifier(
            [TrustedIssuer(iss=SANDBOX_ISS, jku=[SANDBOX_JKU])], client
        )

        def call(authorization: str | None) -> str | None:
            """The failure reason, or None when accepted."""
            try:
                runner.run(verifier.authenticate(authorization, SERVICE_URL))
            except AuthenticationFailed as exc:
                return str(exc.reason)
            return None

        try:
            yield call
        finally:
            runner.run(client.aclose())


REASONS = {str(reason) for reason in FailureReason}
fuzz_settings = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
)


@pytest.mark.slow
@fuzz_settings
@given(header=st.none() | st.text(max_size=300) | st.text(max_size=200).map(lambda t: f"Bearer {t}"))
def test_random_authorization_headers_are_refused(verify: Any, header: str | None) -> None:
    assert verify(header) in REASONS


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@pytest.mark.slow
@fuzz_settings
@given(
    header_changes=st.dictionaries(
        st.sampled_from(["alg", "typ", "kid", "jku", "crit", "x5u", "jwk"]), json_value, max_size=2
    ),
    claim_changes=st.dictionaries(
        st.sampled_from(["iss", "aud", "exp", "iat", "nbf", "jti", "sub", "tenant"]), json_value, max_size=3
    ),
)
def test_mutated_header_or_claims_never_pass_with_the_old_signature(
    verify: Any, header_changes: dict[str, Any], claim_changes: dict[str, Any]
) -> None:
    head, body, signature = SANDBOX.token().split(".")
    header = {**json.loads(base64.urlsafe_b64decode(head + "==")), **header_changes}
    claims = {**json.loads(base64.urlsafe_b64decode(body + "==")), **claim_changes}
    forged = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}.{signature}"
    assert verify(f"Bearer {forged}") in REASONS


@pytest.mark.slow
@fuzz_settings
@given(position=st.integers(min_value=0), replacement=st.sampled_from("AQgw_-.=+/ \x00é"))
def test_any_single_character_change_is_refused(verify: Any, position: int, replacement: str) -> None:
    token = SANDBOX.token()
    index = position % len(token)
    if token[index] == replacement:
        return
    tampered = token[:index] + replacement + token[index + 1 :]
    # Even where base64 decoding is lenient, the signed input is the token's ASCII text.
    assert verify(f"Bearer {tampered}") in REASONS


def test_the_untampered_token_is_accepted(verify: Any) -> None:
    assert verify(SANDBOX.bearer()) is None
