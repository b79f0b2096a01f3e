"""A CDS client (EHR) signing its JWTs the way real ones do, and a verifier wired to trust it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

import httpx
import pytest
from joserfc import jws
from joserfc.jwk import ECKey, KeyParameters, RSAKey

from service.auth.claims import TimeWindow
from service.auth.jwks import JwksCache
from service.auth.policy import build_policies
from service.auth.replay import MemoryReplayCache
from service.auth.verifier import JwtAuthenticator
from service.settings import TrustedIssuer

NOW = 1_900_000_000.0  # a fixed wall clock for every token in these tests
SERVICE_URL = "https://toxhooks.example.org/cds-services/toxhooks-order-sign"
SANDBOX_ISS = "https://sandbox.cds-hooks.org"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
EPIC_ISS = "https://fhir.epic.example.org/interconnect-fhir-oauth"
EPIC_JWKS_URL = (
    "https://fhir.epic.example.org/interconnect-fhir-oauth/api/epic/2019/Security/Open/PublicKeys/530005/OIDC"
)


def b64url(data: bytes) -> str:
    """Base64url without padding, as in JWS."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Ehr:
    """Holds a signing key and mints JWTs for calls to toxhooks."""

    def __init__(self, iss: str, *, alg: str = "ES384", kid: str = "ehr-key-1", jku: str | None = None):
        self.iss = iss
        self.alg = alg
        self.kid = kid
        self.jku = jku
        self.key: ECKey | RSAKey = new_key(alg, kid)

    def jwks(self, *extra: ECKey | RSAKey) -> dict[str, Any]:
        """The public JWKS the EHR publishes."""
        keys = [self.key, *extra]
        return {"keys": [{**k.as_dict(private=False), "use": "sig", "alg": self.alg} for k in keys]}

    def claims(self, audience: str = SERVICE_URL, **overrides: Any) -> dict[str, Any]:
        """CDS Hooks 2.0 claims: iss, aud, exp (5 minutes), iat, jti."""
        claims: dict[str, Any] = {
            "iss": self.iss,
            "aud": audience,
            "exp": int(NOW) + 300,
            "iat": int(NOW),
            "jti": str(uuid.uuid4()),
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not DROP}

    def header(self, **overrides: Any) -> dict[str, Any]:
        """JWS header: alg, typ, kid and jku when the EHR publishes one."""
        header: dict[str, Any] = {"alg": self.alg, "typ": "JWT", "kid": self.kid}
        if self.jku:
            header["jku"] = self.jku
        header.update(overrides)
        return {k: v for k, v in header.items() if v is not DROP}

    def token(
        self,
        audience: str = SERVICE_URL,
        *,
        header: dict[str, Any] | None = None,
        key: ECKey | RSAKey | None = None,
        **claims: Any,
    ) -> str:
        """A signed compact JWT; `header` entries and keyword claims override the defaults."""
        protected = self.header(**(header or {}))
        payload = json.dumps(self.claims(audience, **claims)).encode()
        alg = protected.get("alg", self.alg)
        return jws.serialize_compact(protected, payload, key or self.key, algorithms=[alg])

    def bearer(self, audience: str = SERVICE_URL, **kwargs: Any) -> str:
        """The Authorization header value."""
        return f"Bearer {self.token(audience, **kwargs)}"


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP: Any = _Drop()  # pass as a claim or header value to leave it out


def new_key(alg: str, kid: str) -> ECKey | RSAKey:
    """A fresh private key for `alg`."""
    params: KeyParameters = {"kid": kid}
    if alg.startswith("ES"):
        return ECKey.generate_key({"ES256": "P-256", "ES384": "P-384"}[alg], parameters=params)
    return RSAKey.generate_key(2048, parameters=params)


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A token put together by hand, as an attacker would (alg none, HMAC, forged parts)."""
    head = b64url(json.dumps(header).encode())
    body = b64url(json.dumps(claims).encode())
    return f"{head}.{body}.{b64url(signature)}"


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """An HMAC-signed token (the classic key-confusion attack uses the public key as secret)."""
    head = b64url(json.dumps(header).encode())
    body = b64url(json.dumps(claims).encode())
    mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(mac)}"


class FakeClock:
    """A monotonic clock moved by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def make_verifier(
    issuers: list[TrustedIssuer],
    client: httpx.AsyncClient,
    *,
    now: float = NOW,
    leeway_s: float = 60,
    max_lifetime_s: float = 3600,
    max_token_bytes: int = 16_384,
    refresh_interval_s: float = 60,
    clock: FakeClock | None = None,
) -> JwtAuthenticator:
    """A verifier with a frozen wall clock and a hand-moved monotonic clock."""
    return JwtAuthenticator(
        build_policies(issuers),
        jwks=JwksCache(client, min_interval_s=refresh_interval_s, max_age_s=3600, clock=clock or FakeClock()),
        replay=MemoryReplayCache(clock=clock or FakeClock()),
        window=TimeWindow(leeway_s=leeway_s, max_lifetime_s=max_lifetime_s),
        max_token_bytes=max_token_bytes,
        now=lambda: now,
    )


def test_ehr_tokens_carry_the_cds_hooks_header_and_claims() -> None:
    ehr = Ehr(SANDBOX_ISS, jku=SANDBOX_JKU)
    compact = jws.deserialize_compact(ehr.token(), ehr.key, algorithms=["ES384"])
    assert compact.headers() == {"alg": "ES384", "typ": "JWT", "kid": "ehr-key-1", "jku": SANDBOX_JKU}
    claims = json.loads(compact.payload)
    assert set(claims) == {"iss", "aud", "exp", "iat", "jti"}
    assert claims["aud"] == SERVICE_URL


def test_published_jwks_holds_no_private_material() -> None:
    ehr = Ehr(EPIC_ISS, alg="RS384")
    (key,) = ehr.jwks()["keys"]
    assert "d" not in key and key["kid"] == "ehr-key-1"


@pytest.mark.parametrize("alg", ["ES256", "ES384", "RS256", "RS384", "PS384"])
def test_every_supported_algorithm_can_sign(alg: str) -> None:
    ehr = Ehr(EPIC_ISS, alg=alg)
    assert jws.deserialize_compact(ehr.token(), ehr.key, algorithms=[alg]).headers()["alg"] == alg
