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
from joserfc import jws

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
    # Floats include NaN and infinities (json.dumps writes them as NaN/Infinity literals).
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**18, max_value=10**400)
    | st.floats()
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)

# JSON text for a value, including what json.dumps never writes: numbers no float holds, the
# non-standard NaN/Infinity literals Python would otherwise accept, and overflowing exponents.
number_literal = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.integers(min_value=19, max_value=1000).map(lambda digits: "9" * digits),  # huge integers
    st.integers(min_value=19, max_value=1000).map(lambda digits: "-1" + "0" * digits),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1E+309", "0.0", "-0", "1e-400"]),
    st.integers(min_value=1_899_999_000, max_value=1_900_004_000).map(str),  # around the test clock
)
claim_literal = st.one_of(
    number_literal,
    json_value.map(json.dumps),  # strings, booleans, null, nested lists and objects
    number_literal.map(lambda number: f"[{number}]"),
    number_literal.map(lambda number: f'{{"n": {number}}}'),
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


@pytest.mark.slow
@fuzz_settings
@given(
    literals=st.dictionaries(
        st.sampled_from(["exp", "iat", "nbf", "jti", "sub", "aud"]), claim_literal, min_size=1
    ),
    signed=st.booleans(),
)
def test_odd_numbers_in_claims_are_refused_or_accepted_never_raise(
    verify: Any, literals: dict[str, str], signed: bool
) -> None:
    """Time claims (and others) as raw JSON text: huge ints, floats, NaN/Infinity, strings, nesting."""
    claims: dict[str, Any] = SANDBOX.claims()
    for name in literals:
        claims[name] = f"__{name}__"
    text = json.dumps(claims)
    for name, literal in literals.items():
        text = text.replace(f'"__{name}__"', literal)
    header = SANDBOX.header()
    if signed:
        token = jws.serialize_compact(header, text.encode(), SANDBOX.key, algorithms=[SANDBOX.alg])
    else:
        token = f"{b64url(json.dumps(header).encode())}.{b64url(text.encode())}.{b64url(b'sig')}"
    outcome = verify(f"Bearer {token}")
    if outcome is None:
        # Accepted only with the genuine signature and a real, finite time in every time claim.
        assert signed
        for name in ("exp", "iat", "nbf"):
            if name in literals:
                value = json.loads(literals[name])
                assert isinstance(value, int | float) and not isinstance(value, bool)
                assert 0 <= value <= 253_402_300_799
    else:
        assert outcome in REASONS
