"""cards/ stays plain Python: no web framework and no wall clock in its modules."""

from __future__ import annotations

import importlib
import pkgutil

import cards

MODULES = sorted(
    m.name for m in pkgutil.iter_modules(cards.__path__) if not m.ispkg and not m.name.startswith("_")
)


def test_cards_sources_avoid_the_web_framework_and_the_wall_clock() -> None:
    for name in MODULES:
        source = importlib.import_module(f"cards.{name}").__file__ or ""
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
        assert "fastapi" not in text and "starlette" not in text, name
        assert "datetime.now" not in text and "date.today" not in text, name
