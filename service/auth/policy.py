"""Trusted CDS clients turned into checked, ready-to-use verification policies."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey, import_key

from service.errors import ConfigurationError
from service.settings import TrustedIssuer

__all__ = [
    "DEFAULT_ALGORITHMS",
    "SUPPORTED_ALGORITHMS",
    "IssuerPolicy",
    "VerificationKey",
    "build_policies",
    "public_keys",
]

# CDS Hooks 2.0 "Trusting CDS Clients": asymmetric only; never `none`, never HMAC.
SUPPORTED_ALGORITHMS = frozenset({"ES256", "ES384", "RS256", "RS384", "PS384"})
DEFAULT_ALGORITHMS = frozenset({"ES384", "RS384"})

VerificationKey = ECKey | RSAKey


@dataclass(frozen=True, slots=True)
class IssuerPolicy:
    """How tokens of one trusted issuer are checked."""

    iss: str
    algorithms: frozenset[str]
    jku: frozenset[str] = frozenset()
    jwks_url: str | None = None
    static_keys: Mapping[str, VerificationKey] = field(default_factory=dict)
    tenant: str | None = None


def public_keys(jwks: object) -> dict[str, VerificationKey]:
    """The usable signing keys of a JWKS document, by kid (symmetric and keyless entries skipped)."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ValueError("a JWKS is an object with a 'keys' array")
    keys: dict[str, VerificationKey] = {}
    for entry in jwks["keys"]:
        if not isinstance(entry, dict) or entry.get("kty") not in ("EC", "RSA"):
            continue  # "oct" keys would turn verification into HMAC with a shared secret
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid or entry.get("use", "sig") != "sig":
            continue
        public = {k: v for k, v in entry.items() if k not in _PRIVATE_MEMBERS}
        try:
            key = import_key(public)
        except (JoseError, ValueError, TypeError):
            continue  # one bad key must not hide the others
        if isinstance(key, ECKey | RSAKey):
            keys[kid] = key
    return keys


# Private JWK members: a JWKS published by an EHR should never hold them; drop them if it does.
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"})


def build_policies(issuers: Iterable[TrustedIssuer]) -> dict[str, IssuerPolicy]:
    """Check the configured issuers and load their static keys; raise ConfigurationError if unsafe."""
    policies: dict[str, IssuerPolicy] = {}
    for issuer in issuers:
        if not issuer.iss:
            raise ConfigurationError("trusted issuer with an empty 'iss'")
        if issuer.iss in policies:
            raise ConfigurationError(f"trusted issuer {issuer.iss!r} is configured twice")
        policies[issuer.iss] = _policy(issuer)
    return policies


def _policy(issuer: TrustedIssuer) -> IssuerPolicy:
    name = issuer.iss
    algorithms = frozenset(issuer.algorithms)
    if not algorithms:
        raise ConfigurationError(f"trusted issuer {name!r}: 'algorithms' is empty")
    refused = sorted(algorithms - SUPPORTED_ALGORITHMS)
    if refused:
        raise ConfigurationError(
            f"trusted issuer {name!r}: algorithms {refused} are not allowed "
            f"(allowed: {sorted(SUPPORTED_ALGORITHMS)})"
        )
    for url in [*issuer.jku, *([issuer.jwks_url] if issuer.jwks_url else [])]:
        _check_url(name, url)
    static = _static_jwks(issuer)
    try:
        static_keys = public_keys(static) if static is not None else {}
    except ValueError as exc:
        raise ConfigurationError(f"trusted issuer {name!r}: static JWKS: {exc}") from exc
    if static is not None and not static_keys:
        raise ConfigurationError(f"trusted issuer {name!r}: the static JWKS has no usable EC or RSA key")
    if not (issuer.jku or issuer.jwks_url or static_keys):
        raise ConfigurationError(
            f"trusted issuer {name!r}: configure 'jku', 'jwks_url', 'jwks' or 'jwks_file'"
        )
    return IssuerPolicy(
        iss=name,
        algorithms=algorithms,
        jku=frozenset(issuer.jku),
        jwks_url=issuer.jwks_url,
        static_keys=static_keys,
        tenant=issuer.tenant,
    )


def _static_jwks(issuer: TrustedIssuer) -> dict[str, Any] | None:
    if issuer.jwks is not None and issuer.jwks_file is not None:
        raise ConfigurationError(f"trusted issuer {issuer.iss!r}: set 'jwks' or 'jwks_file', not both")
    if issuer.jwks is not None:
        return dict(issuer.jwks)
    if issuer.jwks_file is None:
        return None
    try:
        loaded = json.loads(issuer.jwks_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"trusted issuer {issuer.iss!r}: cannot read JWKS file {issuer.jwks_file}: {exc}"
        ) from exc
    if not isinstance(loaded, dict):
        raise ConfigurationError(f"trusted issuer {issuer.iss!r}: {issuer.jwks_file} is not a JWKS object")
    return loaded


def _check_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    # Plain HTTP would let anyone on the path swap the keys; loopback is allowed for local testing.
    loopback = parts.hostname in ("127.0.0.1", "::1", "localhost")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ConfigurationError(f"trusted issuer {name!r}: JWKS URL {url!r} must use https")
    if not parts.hostname:
        raise ConfigurationError(f"trusted issuer {name!r}: JWKS URL {url!r} has no host")
