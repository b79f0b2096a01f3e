"""Group graded events into per-term timelines, oldest first (events without a time first)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from terminology.model import GradedEvent, TermTimeline

__all__ = ["build_timelines"]

_EARLIEST = datetime.min.replace(tzinfo=UTC)


def _when(event: GradedEvent) -> datetime:
    moment = event.effective
    if moment is None:
        return _EARLIEST
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def build_timelines(events: Iterable[GradedEvent]) -> dict[str, TermTimeline]:
    """One TermTimeline per CTCAE term; events of the same time keep their input order."""
    by_term: dict[str, list[GradedEvent]] = {}
    for event in events:
        by_term.setdefault(event.term, []).append(event)
    return {
        term: TermTimeline(term=term, events=tuple(sorted(items, key=_when)))
        for term, items in sorted(by_term.items())
    }
