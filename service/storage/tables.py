"""The database schema (changed only through an Alembic migration in migrations/versions)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, String, Table, Text

__all__ = ["feedback", "issued_cards", "metadata"]

metadata = MetaData()

# One row per card we returned: lets feedback on a card uuid be attributed to service, drug and rules.
issued_cards = Table(
    "issued_cards",
    metadata,
    Column("card_uuid", String(64), primary_key=True),
    Column("service_id", String(128), nullable=False),
    Column("hook", String(32), nullable=False),
    Column("drug", String(128), nullable=True),
    Column("decision", String(64), nullable=False),
    Column("rule_ids", Text, nullable=False),  # JSON array
    Column("issued_at", DateTime(timezone=True), nullable=False),
)

# One row per distinct feedback entry; `entry_key` (a hash of the entry) makes repeats idempotent.
feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entry_key", String(64), nullable=False, unique=True),
    Column("service_id", String(128), nullable=False),
    Column("card_uuid", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("accepted_suggestions", Text, nullable=False),  # JSON array of suggestion uuids
    Column("override_reason_system", String(255), nullable=True),
    Column("override_reason_code", String(255), nullable=True),
    Column("override_reason_display", Text, nullable=True),
    Column("override_comment", Text, nullable=True),
    Column("outcome_timestamp", DateTime(timezone=True), nullable=False),
    Column("drug", String(128), nullable=True),
    Column("rule_ids", Text, nullable=False),  # JSON array, copied from issued_cards when known
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index("ix_feedback_service", "service_id"),
    Index("ix_feedback_card", "card_uuid"),
)
