"""Records issued cards off the response path: batched writes in a background task."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from service.storage.feedback_store import FeedbackStore
from service.storage.issued import IssuedCard

__all__ = ["IssuedCardRecorder"]

log = logging.getLogger(__name__)


class IssuedCardRecorder:
    """Queues issued cards and writes them in batches, so a hook answer never waits for a disk sync.

    Feedback calls `flush()` first, so feedback on a card just issued is still attributed.
    """

    def __init__(self, store: FeedbackStore) -> None:
        self._store = store
        self._pending: list[IssuedCard] = []
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def add(self, cards: Iterable[IssuedCard]) -> None:
        """Queue cards; a write is scheduled unless one is already running."""
        self._pending.extend(cards)
        if self._pending and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self.flush())

    async def flush(self) -> None:
        """Write everything queued so far."""
        async with self._lock:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    await self._store.record_issued(batch)
                except Exception as exc:  # losing attribution must never fail or crash a call
                    log.warning("could not record %d issued cards: %s", len(batch), type(exc).__name__)

    async def close(self) -> None:
        """Finish pending writes (at shutdown)."""
        if self._task is not None:
            await self._task
        await self.flush()
