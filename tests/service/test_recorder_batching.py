"""Issued cards are written in batches (per N cards or per interval) and never dropped at shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from service.app import create_app
from service.settings import Settings
from service.storage.issued import IssuedCard
from service.storage.recorder import IssuedCardRecorder
from service.storage.tables import issued_cards
from tests.service.examples import hook_request
from tests.service.fakes import FROZEN_NOW, FakeEngine, LabKnowledge, sequential_ids

SIGN = "/cds-services/toxhooks-order-sign"


class RecordingStore:
    """Stands in for FeedbackStore.record_issued: one list per transaction."""

    def __init__(self) -> None:
        self.writes: list[list[str]] = []

    async def record_issued(self, cards: Iterable[IssuedCard]) -> None:
        self.writes.append([c.card_uuid for c in cards])


def card(n: int) -> IssuedCard:
    return IssuedCard(
        card_uuid=f"card-{n}",
        service_id="toxhooks-order-sign",
        hook="order-sign",
        drug="alectinib",
        decision="withhold",
        rule_ids=("r",),
        issued_at=datetime(2026, 3, 16, tzinfo=UTC),
        dedupe_key=None,
    )


def recorder(store: RecordingStore, **options: Any) -> IssuedCardRecorder:
    return IssuedCardRecorder(store, **options)  # type: ignore[arg-type]


async def test_calls_within_the_interval_share_one_transaction() -> None:
    store = RecordingStore()
    rec = recorder(store, batch_cards=100, interval_s=0.05)
    for n in range(5):
        rec.add([card(n)])
        await asyncio.sleep(0)
    assert store.writes == []  # nothing written on the response path
    await asyncio.sleep(0.2)
    assert store.writes == [[f"card-{n}" for n in range(5)]]


async def test_a_full_batch_is_written_at_once() -> None:
    store = RecordingStore()
    rec = recorder(store, batch_cards=3, interval_s=60.0)
    rec.add([card(0), card(1)])
    await asyncio.sleep(0.01)
    assert store.writes == []
    rec.add([card(2)])
    await asyncio.sleep(0.01)
    assert store.writes == [["card-0", "card-1", "card-2"]]
    await rec.close()


async def test_close_writes_what_is_queued() -> None:
    store = RecordingStore()
    rec = recorder(store, batch_cards=100, interval_s=60.0)
    rec.add([card(0), card(1)])
    await rec.close()
    assert store.writes == [["card-0", "card-1"]]


async def test_flush_writes_at_once_for_feedback() -> None:
    store = RecordingStore()
    rec = recorder(store, batch_cards=100, interval_s=60.0)
    rec.add([card(0)])
    await rec.flush()
    assert store.writes == [["card-0"]]
    await rec.close()
    assert store.writes == [["card-0"]]  # nothing written twice


async def test_issued_cards_are_on_disk_after_shutdown(tmp_path: Path, monkeypatch: Any) -> None:
    """The app's shutdown (lifespan exit) flushes the batch of a call answered just before."""
    import httpx

    monkeypatch.setattr("service.hook.evaluate", FakeEngine())
    settings = Settings(dev=True, database_url=f"sqlite+aiosqlite:///{tmp_path / 't.db'}", log_json=False)
    app = create_app(
        settings, knowledge=LabKnowledge(version="t"), clock=lambda: FROZEN_NOW, id_factory=sequential_ids()
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post(SIGN, json=hook_request("order-sign"))
        uuids = [c["uuid"] for c in response.json()["cards"]]
        assert uuids
    # The app's engine is disposed at shutdown: read the file with a fresh one.
    from service.storage.database import create_engine

    engine = create_engine(settings.database_url)
    async with engine.connect() as conn:
        stored = [row.card_uuid for row in await conn.execute(select(issued_cards.c.card_uuid))]
    await engine.dispose()
    assert stored == uuids
