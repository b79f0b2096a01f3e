"""What one running app holds: settings, knowledge, services, clients, stores, clock and ids."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from cards.loader import KnowledgeBase, load_knowledge
from service.auth import Authenticator
from service.auth.factory import build_authenticator
from service.catalog import Catalog, load_catalog
from service.dedupe import ShownCardsStore, shown_cards_store
from service.settings import Settings
from service.storage.database import create_engine
from service.storage.feedback_store import FeedbackStore
from service.storage.recorder import IssuedCardRecorder
from terminology.units import warm_up

__all__ = ["AppState", "build_state"]


@dataclass
class AppState:
    """The app's collaborators, built once by create_app and injected into the routes."""

    settings: Settings
    knowledge: KnowledgeBase
    catalog: Catalog
    client: httpx.AsyncClient  # one shared client for FHIR fetches and JWKS
    owns_client: bool  # closed at shutdown only when create_app made it
    authenticator: Authenticator
    engine: AsyncEngine
    store: FeedbackStore
    recorder: IssuedCardRecorder  # issued cards, written off the response path
    shown: ShownCardsStore
    clock: Callable[[], datetime]
    id_factory: Callable[[], str]


def build_state(
    settings: Settings,
    *,
    knowledge: KnowledgeBase | None = None,
    http_client: httpx.AsyncClient | None = None,
    clock: Callable[[], datetime] | None = None,
    id_factory: Callable[[], str] | None = None,
) -> AppState:
    """Everything the app needs; raises ConfigurationError (e.g. no trusted issuer outside dev mode)."""
    warm_up()  # unit factors loaded now, not on the first lab value
    client = http_client or httpx.AsyncClient(follow_redirects=False)
    engine = create_engine(settings.database_url)
    store = FeedbackStore(engine)
    return AppState(
        settings=settings,
        knowledge=knowledge or load_knowledge(settings.knowledge_dir),
        catalog=load_catalog(),
        client=client,
        owns_client=http_client is None,
        authenticator=build_authenticator(settings, client),
        engine=engine,
        store=store,
        recorder=IssuedCardRecorder(store),
        shown=shown_cards_store(
            settings.dedupe_ttl_s,
            settings.redis_url.get_secret_value() if settings.redis_url else None,
        ),
        clock=clock or (lambda: datetime.now(UTC)),
        id_factory=id_factory or (lambda: str(uuid.uuid4())),
    )
