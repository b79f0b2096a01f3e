"""The prefetch queries of a call: rendered once per service and day, as discovery renders them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cards.loader import load_knowledge
from service.catalog import load_catalog
from service.gathering import lab_codes, prefetch_queries


def test_queries_are_the_catalogs_at_any_time_of_the_day() -> None:
    knowledge, catalog = load_knowledge(), load_catalog()
    for service in catalog.services:
        for now in (
            datetime(2026, 3, 16, 0, 0, tzinfo=UTC),
            datetime(2026, 3, 16, 23, 59, 59, tzinfo=UTC),
            datetime(2026, 3, 17, 9, 30, tzinfo=UTC),
        ):
            since = now - timedelta(days=90)
            expected = service.prefetch_queries(lab_codes=lab_codes(knowledge), since=since)
            assert prefetch_queries(service, knowledge, window_days=90, now=now) == expected


def test_each_call_gets_its_own_dict() -> None:
    knowledge, service = load_knowledge(), load_catalog().services[0]
    now = datetime(2026, 3, 16, 10, tzinfo=UTC)
    first = prefetch_queries(service, knowledge, window_days=90, now=now)
    first.clear()
    assert prefetch_queries(service, knowledge, window_days=90, now=now)
