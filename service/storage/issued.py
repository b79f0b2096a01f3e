"""The record of a card as issued, kept so feedback on its uuid can be attributed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["IssuedCard"]


@dataclass(frozen=True, slots=True)
class IssuedCard:
    """A card as issued, so feedback on its uuid can be attributed to service, drug and rules."""

    card_uuid: str
    service_id: str
    hook: str
    drug: str | None
    decision: str
    rule_ids: tuple[str, ...]
    issued_at: datetime
    dedupe_key: str | None
