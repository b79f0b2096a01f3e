"""Feedback storage on SQLite and PostgreSQL: migrations, idempotent writes, attribution, statistics."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from service.errors import ConfigurationError
from service.feedback_entries import parse_feedback
from service.storage.database import ensure_schema, schema_revision, upgrade
from service.storage.feedback_store import FeedbackStore
from service.storage.issued import IssuedCard
from service.storage.tables import feedback
from tests.service.storage_backends import BACKENDS, engine_for

CARD_A = "00000000-0000-0000-0000-00000000000a"
CARD_B = "00000000-0000-0000-0000-00000000000b"
NOW = datetime(2026, 3, 14, 8, 30, tzinfo=UTC)


def issued(card: str, rules: tuple[str, ...]) -> IssuedCard:
    return IssuedCard(
        card_uuid=card,
        service_id="toxhooks-order-sign",
        hook="order-sign",
        drug="alectinib",
        decision="withhold",
        rule_ids=rules,
        issued_at=NOW,
        dedupe_key=None,
    )


def entries(card: str, outcome: str, at: str = "2026-03-14T09:00:00Z") -> list[dict[str, object]]:
    entry: dict[str, object] = {"card": card, "outcome": outcome, "outcomeTimestamp": at}
    if outcome == "accepted":
        entry["acceptedSuggestions"] = [{"id": "00000000-0000-0000-0000-0000000000ff"}]
    else:
        entry["overrideReason"] = {"reason": {"code": "aware", "display": "Aware"}, "userComment": "seen"}
    return [entry]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_empty_database_is_upgraded_to_head(backend: str, tmp_path: Path) -> None:
    async with engine_for(backend, tmp_path) as engine:
        assert await schema_revision(engine) is None
        with pytest.raises(ConfigurationError, match="toxhooks db upgrade"):
            await ensure_schema(engine, auto_upgrade=False)
        await ensure_schema(engine, auto_upgrade=True)
        assert await schema_revision(engine) == "0001"
        await ensure_schema(engine, auto_upgrade=False)  # at head: nothing to do


@pytest.mark.parametrize("backend", BACKENDS)
async def test_unknown_schema_revision_is_refused(backend: str, tmp_path: Path) -> None:
    async with engine_for(backend, tmp_path) as engine:
        await upgrade(engine)
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = 'f00d9999'"))
        with pytest.raises(ConfigurationError, match="does not know"):
            await ensure_schema(engine, auto_upgrade=True)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_feedback_is_idempotent_and_attributed(backend: str, tmp_path: Path) -> None:
    async with engine_for(backend, tmp_path) as engine:
        await upgrade(engine)
        store = FeedbackStore(engine)
        await store.record_issued([issued(CARD_A, ("alectinib.ck.withhold", "alectinib.ck.monitor"))])
        await store.record_issued([issued(CARD_A, ("alectinib.ck.withhold",))])  # re-issue: ignored
        first = parse_feedback({"feedback": entries(CARD_A, "accepted")})
        assert await store.store("toxhooks-order-sign", first, NOW) == 1
        assert await store.store("toxhooks-order-sign", first, NOW) == 0  # the same entry again
        async with engine.connect() as conn:
            rows = (await conn.execute(select(feedback))).mappings().all()
        assert len(rows) == 1
        assert rows[0]["rule_ids"] == '["alectinib.ck.withhold","alectinib.ck.monitor"]'
        assert rows[0]["drug"] == "alectinib"
        assert rows[0]["accepted_suggestions"] == '["00000000-0000-0000-0000-0000000000ff"]'


@pytest.mark.parametrize("backend", BACKENDS)
async def test_stats_per_service_and_rule(backend: str, tmp_path: Path) -> None:
    async with engine_for(backend, tmp_path) as engine:
        await upgrade(engine)
        store = FeedbackStore(engine)
        await store.record_issued(
            [issued(CARD_A, ("r.withhold",)), issued(CARD_B, ("r.withhold", "r.monitor"))]
        )
        await store.store(
            "toxhooks-order-sign", parse_feedback({"feedback": entries(CARD_A, "accepted")}), NOW
        )
        await store.store(
            "toxhooks-order-sign", parse_feedback({"feedback": entries(CARD_B, "overridden")}), NOW
        )
        later = entries(CARD_B, "accepted", "2026-03-14T10:00:00+01:00")
        await store.store("toxhooks-order-sign", parse_feedback({"feedback": later}), NOW)
        stats = {(r.scope, r.name): r for r in await store.stats()}
        service = stats[("service", "toxhooks-order-sign")]
        assert (service.accepted, service.overridden, service.total) == (2, 1, 3)
        assert service.acceptance_rate == pytest.approx(2 / 3)
        assert (stats[("rule", "r.withhold")].accepted, stats[("rule", "r.withhold")].overridden) == (2, 1)
        assert stats[("rule", "r.monitor")].override_rate == pytest.approx(0.5)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_feedback_is_durable_once_stored(backend: str, tmp_path: Path) -> None:
    async with engine_for(backend, tmp_path) as engine:
        await upgrade(engine)
        await FeedbackStore(engine).store(
            "toxhooks-order-sign", parse_feedback({"feedback": entries(CARD_A, "overridden")}), NOW
        )
        await engine.dispose()  # drop every pooled connection: the row must be committed already
        async with engine.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(feedback))).scalar_one() == 1


async def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    async with engine_for("sqlite", tmp_path) as engine, engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
        assert (await conn.execute(text("PRAGMA synchronous"))).scalar_one() == 2  # FULL
