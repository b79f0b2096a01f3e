"""The feedback store: issued cards, feedback entries (idempotent) and acceptance statistics."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from service.feedback_entries import FeedbackEntry
from service.storage.issued import IssuedCard
from service.storage.tables import feedback, issued_cards

__all__ = ["FeedbackStore", "StatsRow"]


@dataclass(frozen=True, slots=True)
class StatsRow:
    """Acceptance and override counts for one service or one rule."""

    scope: str  # "service" or "rule"
    name: str
    accepted: int
    overridden: int

    @property
    def total(self) -> int:
        """All feedback entries counted."""
        return self.accepted + self.overridden

    @property
    def acceptance_rate(self) -> float:
        """Share of entries that were accepted."""
        return self.accepted / self.total if self.total else 0.0

    @property
    def override_rate(self) -> float:
        """Share of entries that were overridden."""
        return self.overridden / self.total if self.total else 0.0


class FeedbackStore:
    """Reads and writes issued cards and feedback through one async engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def _insert(self, table: Any) -> Any:
        """INSERT ... ON CONFLICT DO NOTHING in the engine's dialect (repeats are not errors)."""
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table).on_conflict_do_nothing()

    async def ping(self) -> None:
        """Raise when the database cannot be reached."""
        async with self._engine.connect() as conn:
            await conn.execute(select(1))

    async def record_issued(self, cards: Iterable[IssuedCard]) -> None:
        """Remember which service, drug and rules made each card uuid."""
        rows = [
            {
                "card_uuid": c.card_uuid,
                "service_id": c.service_id,
                "hook": c.hook,
                "drug": c.drug,
                "decision": c.decision,
                "rule_ids": orjson.dumps(list(c.rule_ids)).decode(),
                "issued_at": c.issued_at,
            }
            for c in cards
        ]
        if rows:
            async with self._engine.begin() as conn:
                await conn.execute(self._insert(issued_cards), rows)

    async def store(self, service_id: str, entries: Iterable[FeedbackEntry], received_at: datetime) -> int:
        """Store every entry durably (one transaction, committed before return); returns new rows."""
        entries = list(entries)
        async with self._engine.begin() as conn:
            cards = {e.card for e in entries}
            found = await conn.execute(
                select(issued_cards.c.card_uuid, issued_cards.c.drug, issued_cards.c.rule_ids).where(
                    issued_cards.c.card_uuid.in_(cards)
                )
            )
            origin = {row.card_uuid: (row.drug, row.rule_ids) for row in found}
            stored = 0
            for entry in entries:
                reason = entry.overrideReason.reason if entry.overrideReason else None
                drug, rule_ids = origin.get(entry.card, (None, "[]"))
                result = await conn.execute(
                    self._insert(feedback).values(
                        entry_key=entry.key(service_id),
                        service_id=service_id,
                        card_uuid=entry.card,
                        outcome=entry.outcome,
                        accepted_suggestions=orjson.dumps([s.id for s in entry.acceptedSuggestions]).decode(),
                        override_reason_system=reason.system if reason else None,
                        override_reason_code=reason.code if reason else None,
                        override_reason_display=reason.display if reason else None,
                        override_comment=entry.overrideReason.userComment if entry.overrideReason else None,
                        outcome_timestamp=entry.outcomeTimestamp,
                        drug=drug,
                        rule_ids=rule_ids,
                        received_at=received_at,
                    )
                )
                stored += max(result.rowcount, 0)
        return stored

    async def stats(self) -> list[StatsRow]:
        """Counts per service, then per rule, sorted by name."""
        counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(feedback.c.service_id, feedback.c.outcome, feedback.c.rule_ids))
            for row in rows:
                slot = 0 if row.outcome == "accepted" else 1
                counts[("service", row.service_id)][slot] += 1
                for rule in orjson.loads(row.rule_ids):
                    counts[("rule", str(rule))][slot] += 1
        return [
            StatsRow(scope=scope, name=name, accepted=a, overridden=o)
            for (scope, name), (a, o) in sorted(counts.items())
        ]
