"""Fixtures of the service tests: settings on a temporary SQLite file, an app with injected doubles."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.app import create_app
from service.settings import Settings
from tests.service.fakes import FROZEN_NOW, FakeEngine, LabKnowledge, sequential_ids
from tests.service.test_auth_ehr import SANDBOX_ISS, SANDBOX_JKU, Ehr

MakeClient = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
def svc_settings(tmp_path: Path) -> Settings:
    """Dev mode (no JWT), a fresh SQLite file, a short FHIR budget."""
    return Settings(
        dev=True,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'toxhooks.db'}",
        fhir_time_budget_s=0.5,
        log_json=False,
    )


@pytest.fixture
def fake_engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    """Replace the rule engine behind the pipeline with a deterministic double."""
    engine = FakeEngine()
    monkeypatch.setattr("service.hook.evaluate", engine)
    return engine


@pytest.fixture
async def make_client(svc_settings: Settings) -> AsyncIterator[MakeClient]:
    """Build the app (lifespan started) and an httpx client calling it in-process."""
    stack: list[Any] = []

    async def build(settings: Settings | None = None, **overrides: Any) -> httpx.AsyncClient:
        overrides.setdefault("knowledge", LabKnowledge(version="test-1"))
        overrides.setdefault("clock", lambda: FROZEN_NOW)
        overrides.setdefault("id_factory", sequential_ids())
        overrides.setdefault("http_client", httpx.AsyncClient())
        app = create_app(settings or svc_settings, **overrides)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        client = httpx.AsyncClient(transport=transport, base_url="http://toxhooks.test")
        stack.append((lifespan, client, overrides["http_client"]))
        return client

    yield build
    for lifespan, client, fhir_client in reversed(stack):
        await client.aclose()
        await fhir_client.aclose()
        await lifespan.__aexit__(None, None, None)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client for the JWKS fetcher (respx replaces the network); modules may override."""
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def sandbox() -> Ehr:
    """The CDS Hooks sandbox as a token issuer: ES384, always a `jku` header; modules may override."""
    return Ehr(SANDBOX_ISS, alg="ES384", kid="44823f3d-0b01-4a6c-a80e-b9d3e8a7226f", jku=SANDBOX_JKU)
