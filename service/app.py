"""Build the toxhooks ASGI app: state, routes, error mapping, auth, metrics, CORS."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import httpx
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from cards.loader import KnowledgeBase
from service.error_handlers import install_error_handlers
from service.observability.logging import configure_logging
from service.observability.metrics import install_metrics, register_services
from service.openapi import install_openapi
from service.routes import discovery, feedback_intake, health, hooks, pages
from service.runtime import settle_heap
from service.settings import Settings
from service.state import build_state
from service.storage.database import ensure_schema, is_sqlite

__all__ = ["create_app"]


def create_app(
    settings: Settings,
    *,
    knowledge: KnowledgeBase | None = None,
    http_client: httpx.AsyncClient | None = None,
    clock: Callable[[], datetime] | None = None,
    id_factory: Callable[[], str] | None = None,
) -> FastAPI:
    """The app; raises ConfigurationError (e.g. no trusted issuer outside dev mode) before serving."""
    configure_logging(settings)
    state = build_state(
        settings, knowledge=knowledge, http_client=http_client, clock=clock, id_factory=id_factory
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # The embedded SQLite default creates/upgrades its schema; a server database needs
        # `toxhooks db upgrade`. Both refuse a schema revision this release does not know.
        await ensure_schema(state.engine, auto_upgrade=is_sqlite(settings.database_url))
        settle_heap()
        yield
        await state.recorder.close()
        await state.authenticator.aclose()
        await state.shown.aclose()
        if state.owns_client:
            await state.client.aclose()
        await state.engine.dispose()

    app = FastAPI(title="toxhooks", version=state.knowledge.version, lifespan=lifespan)
    app.state.toxhooks, app.state.settings, app.state.knowledge = state, settings, state.knowledge
    for module in (discovery, hooks, feedback_intake, health, pages):
        app.include_router(module.router)
    install_error_handlers(app)
    install_openapi(app)
    install_metrics(app, endpoint=settings.metrics_on_service_port, access_log=settings.access_log)
    register_services({s.id: s.hook for s in state.catalog.services})
    origin_regex = settings.cors_origin_regex()
    if settings.cors_origins or origin_regex:
        # Browser clients (the CDS Hooks sandbox, SMART apps): listed origins, plus loopback in dev.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_origin_regex=origin_regex,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["X-Request-ID"],
        )
    return app
