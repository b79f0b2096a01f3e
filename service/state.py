"""What one running app holds: settings, knowledge, services, clients, stores, clock and ids."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from cards.loader import KnowledgeBase
from service.auth import Authenticator
from service.catalog import Catalog
from service.dedupe import ShownCards
from service.settings import Settings
from service.storage.feedback import FeedbackStore
from service.storage.recorder import IssuedCardRecorder

__all__ = ["AppState"]


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
    shown: ShownCards
    clock: Callable[[], datetime]
    id_factory: Callable[[], str]
