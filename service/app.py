"""Build the toxhooks ASGI app: state, routes, error mapping, auth, metrics, CORS."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from cards.loader import KnowledgeBase, load_knowledge
from service.auth.factory import build_authenticator
from service.catalog import load_catalog
from service.dedupe import ShownCards
from service.error_handlers import install_error_handlers
from service.observability.logging import configure_logging
from service.observability.metrics import install_metrics, register_services
from service.routes import discovery, feedback, health, hooks, pages
from service.settings import Settings
from service.state import AppState
from service.storage.database import create_engine, ensure_schema, is_sqlite
from service.storage.feedback import FeedbackStore
from service.storage.recorder import IssuedCardRecorder

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
    client = http_client or httpx.AsyncClient(follow_redirects=False)
    engine = create_engine(settings.database_url)
    store = FeedbackStore(engine)
    state = AppState(
        settings=settings,
        knowledge=knowledge or load_knowledge(settings.knowledge_dir),
        catalog=load_catalog(),
        client=client,
        owns_client=http_client is None,
        authenticator=build_authenticator(settings, client),
        engine=engine,
        store=store,
        recorder=IssuedCardRecorder(store),
        shown=ShownCards(ttl_s=settings.dedupe_ttl_s),
        clock=clock or (lambda: datetime.now(UTC)),
        id_factory=id_factory or (lambda: str(uuid.uuid4())),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # The embedded SQLite default creates/upgrades its schema; a server database needs
        # `toxhooks db upgrade`. Both refuse a schema revision this release does not know.
        await ensure_schema(engine, auto_upgrade=is_sqlite(settings.database_url))
        yield
        await state.recorder.close()
        if state.owns_client:
            await client.aclose()
        await engine.dispose()

    app = FastAPI(title="toxhooks", version=state.knowledge.version, lifespan=lifespan)
    app.state.toxhooks, app.state.settings, app.state.knowledge = state, settings, state.knowledge
    for module in (discovery, hooks, feedback, health, pages):
        app.include_router(module.router)
    install_error_handlers(app)
    install_metrics(app)
    register_services({s.id: s.hook for s in state.catalog.services})
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
        )
    return app
