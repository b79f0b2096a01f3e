"""Records issued cards off the response path: one batched write per N cards or per interval."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from service.storage.feedback_store import FeedbackStore
from service.storage.issued import IssuedCard

__all__ = ["IssuedCardRecorder"]

log = logging.getLogger(__name__)

BATCH_CARDS = 256  # a write starts at once when this many cards wait
BATCH_INTERVAL_S = 0.05  # otherwise the cards of every call within this interval share one write


class IssuedCardRecorder:
    """Queues issued cards and writes them in batches, so a hook answer never waits for a disk sync.

    The issued-card row is attribution data (which service, drug and rules made a card uuid), not
    an acknowledgement: it is written in one transaction per `batch_cards` cards or per
    `interval_s`, whichever comes first, and at shutdown (`close`). Feedback calls `flush()` first,
    so feedback on a card just issued is still attributed; feedback itself is stored durably
    before its 200 by the feedback store, never through this queue.
    """

    def __init__(
        self, store: FeedbackStore, *, batch_cards: int = BATCH_CARDS, interval_s: float = BATCH_INTERVAL_S
    ) -> None:
        self._store = store
        self._batch_cards = batch_cards
        self._interval_s = interval_s
        self._pending: list[IssuedCard] = []
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    def add(self, cards: Iterable[IssuedCard]) -> None:
        """Queue cards; a write starts when the batch is full, else when the interval ends."""
        self._pending.extend(cards)
        if not self._pending:
            return
        if len(self._pending) >= self._batch_cards or self._interval_s <= 0:
            self._start_write()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._interval_s, self._start_write)

    def _start_write(self) -> None:
        """Start a background write of what is queued, unless one is already running."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is None or self._task.done():
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
        """Finish pending writes (at shutdown): nothing queued is dropped."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None:
            await self._task
        await self.flush()
