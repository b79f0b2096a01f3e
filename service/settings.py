"""The one typed settings object, read from TOXHOOKS_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["LOOPBACK_ORIGIN_REGEX", "Settings", "TrustedIssuer", "get_settings"]

# Browser origins on this machine, any port: what --dev allows for CORS without configuration
# (the CDS Hooks sandbox or a SMART app run locally). Matched in full by the CORS middleware.
LOOPBACK_ORIGIN_REGEX = r"http://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?"
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _check_origin(origin: str) -> str:
    """An exact browser origin (scheme://host[:port]); https unless the host is loopback."""
    if origin in ("*", "null"):
        raise ValueError(f"CORS origin {origin!r} is not allowed: list exact origins")
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"CORS origin {origin!r} is not a valid origin") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"CORS origin {origin!r} must be scheme://host[:port]")
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(
            f"CORS origin {origin!r} must have no path, query or credentials (scheme://host[:port])"
        )
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        raise ValueError(f"CORS origin {origin!r} must use https (plain http only for loopback)")
    if origin != origin.lower():
        raise ValueError(f"CORS origin {origin!r} must be lower case, as browsers send it")
    if (parts.scheme, port) in (("https", 443), ("http", 80)):
        raise ValueError(f"CORS origin {origin!r}: omit the default port, as browsers do")
    return origin


class TrustedIssuer(BaseModel):
    """A CDS client (EHR) allowed to call us, and how to check its JWTs."""

    iss: str
    jku: list[str] = Field(default_factory=list)  # allowed JWKS URLs for this issuer
    jwks_url: str | None = None  # fetch keys from here when the token has no jku
    jwks: dict[str, object] | None = None  # static JWKS, inline
    jwks_file: Path | None = None  # static JWKS, from a file
    tenant: str | None = None
    algorithms: list[str] = Field(default_factory=lambda: ["ES384", "RS384"])


class Settings(BaseSettings):
    """toxhooks settings; every field is TOXHOOKS_<NAME> in the environment."""

    model_config = SettingsConfigDict(
        env_prefix="TOXHOOKS_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    # Server
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(1, ge=1)
    graceful_shutdown_s: float = Field(20.0, ge=0)  # finish in-flight calls after SIGTERM; < pod grace period
    dev: bool = False  # no JWT required; binds to 127.0.0.1 only
    public_base_url: str | None = None  # base URL as the EHR sees it (JWT aud behind a proxy)

    # Storage
    database_url: str = "sqlite+aiosqlite:///./toxhooks.db"
    redis_url: SecretStr | None = None  # JWT replay cache across replicas

    # Calls to the EHR's FHIR server
    fhir_time_budget_s: float = Field(2.0, gt=0)  # for all fetches of one hook call
    fhir_max_concurrency: int = Field(4, ge=1)
    fhir_max_pages: int = Field(5, ge=1)
    observation_window_days: int = Field(365, ge=1)  # prefetch date window for lab Observations
    dedupe_ttl_s: int = Field(3600, ge=0)  # order-sign does not repeat an order-select card for this long

    # Clinical content
    ctcae_version: Literal["5.0", "6.0"] = "5.0"
    knowledge_dir: Path | None = None  # site knowledge files that add to or override the built-in

    # Security and limits
    trusted_issuers: list[TrustedIssuer] = Field(default_factory=list)
    jwt_leeway_s: int = Field(60, ge=0)  # clock skew allowed on exp / nbf / iat
    jwt_max_lifetime_s: int = Field(3600, gt=0)  # longer-lived tokens are refused (bounds the replay cache)
    # At most one JWKS fetch per URL per interval; zero would let made-up kids each trigger a fetch.
    jwks_refresh_interval_s: int = Field(60, ge=1)
    jwks_cache_ttl_s: int = Field(3600, gt=0)  # re-fetch a JWKS this old even when every kid is known
    max_token_bytes: int = Field(16_384, gt=0)
    # Exact browser origins allowed to call (CORS). Outside dev mode CORS is off unless listed;
    # dev mode also allows every loopback origin (LOOPBACK_ORIGIN_REGEX).
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(5_000_000, gt=0)
    max_json_depth: int = Field(64, gt=0)
    max_resources: int = Field(20_000, gt=0)

    # Pages served by toxhooks
    preview_enabled: bool = False  # /preview card preview page (always on with dev)
    smart_client_id: str = "toxhooks-timeline"

    # Observability
    log_level: str = "INFO"
    log_json: bool = True
    access_log: bool = True  # one JSON line per request (route template, status, duration, request id)
    otel_endpoint: str | None = None
    # /metrics is never on the service port by default: it is served by a separate listener on
    # metrics_host:metrics_port when metrics_port is set (loopback unless metrics_host says
    # otherwise), and on the service port only with metrics_on_service_port, where the
    # auth-failure counter is shown without its reason label.
    metrics_port: int | None = Field(None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    metrics_on_service_port: bool = False

    @field_validator("cors_origins")
    @classmethod
    def _exact_origins(cls, origins: list[str]) -> list[str]:
        return [_check_origin(origin) for origin in origins]

    @model_validator(mode="after")
    def _separate_metrics_port(self) -> Self:
        if self.metrics_port is not None and self.metrics_port != 0 and self.metrics_port == self.port:
            raise ValueError("metrics_port must differ from port: /metrics is kept off the service port")
        return self

    @model_validator(mode="after")
    def _shared_replay_cache(self) -> Self:
        if self.workers > 1 and self.redis_url is None and not self.dev:
            # Each process would keep its own replay cache and accept a token once per worker.
            raise ValueError("more than one worker needs TOXHOOKS_REDIS_URL for the JWT replay cache")
        return self

    def cors_origin_regex(self) -> str | None:
        """Origins allowed by pattern: every loopback origin in dev mode, none otherwise."""
        return LOOPBACK_ORIGIN_REGEX if self.dev else None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, read once per process."""
    return Settings()
