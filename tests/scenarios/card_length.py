"""How long card details are: the longest detail (characters and lines) over the golden scenarios.

Cards are read in a narrow EHR panel (summary plus a few lines), so detail length is tracked.
Run `python -m tests.scenarios.card_length` for the figures (add `--all` for every card).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
# The most a golden card's detail may hold (docs/knowledge.md, "Card shape"): the longest detail is
# 1,100 characters / 11 lines and renders 654 px tall in a 400 px panel, one screen being 800 px.
BUDGET_CHARACTERS = 1200
BUDGET_LINES = 12
# The scenarios' frozen clock (tests/scenarios/test_scenarios.py): 16 March 2026 10:00 CET.
NOW = datetime(2026, 3, 16, 10, 0, tzinfo=timezone(timedelta(hours=1)))


@dataclass(frozen=True, slots=True)
class DetailLength:
    """One card's detail: where it comes from and how long it is."""

    case: str
    summary: str
    characters: int
    lines: int


def detail_length(case: str, card: dict[str, Any]) -> DetailLength:
    """Characters and lines (Markdown source lines, blank ones included) of a card's detail."""
    detail = card.get("detail") or ""
    return DetailLength(
        case=case,
        summary=card.get("summary", ""),
        characters=len(detail),
        lines=len(detail.splitlines()),
    )


def measure(responses: Iterable[tuple[str, dict[str, Any]]]) -> list[DetailLength]:
    """Every card's detail length, for (case, CDS Hooks response) pairs."""
    return [detail_length(case, card) for case, response in responses for card in response.get("cards", [])]


def golden_responses(folder: Path = HERE) -> Iterator[tuple[str, dict[str, Any]]]:
    """(case, response) for each golden scenario, evaluated offline at the scenarios' clock."""
    from service.offline import evaluate_offline

    for case in sorted(p for p in folder.iterdir() if (p / "request.json").is_file()):
        request = json.loads((case / "request.json").read_text(encoding="utf-8"))
        yield case.name, evaluate_offline(request, now=NOW)


def longest(lengths: Iterable[DetailLength]) -> tuple[DetailLength, DetailLength]:
    """The card with the most characters and the card with the most lines."""
    items = list(lengths)
    if not items:
        raise ValueError("no cards to measure")
    return max(items, key=lambda d: d.characters), max(items, key=lambda d: d.lines)


def main(argv: list[str] | None = None) -> None:
    """Print the longest card details of the golden scenarios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="list every card, longest first")
    args = parser.parse_args(argv)
    lengths = measure(golden_responses())
    by_chars, by_lines = longest(lengths)
    cases = len({d.case for d in lengths})
    print(f"{len(lengths)} cards in {cases} scenarios")
    print(f"longest detail: {by_chars.characters} characters, {by_chars.lines} lines ({by_chars.case})")
    print(f"most lines:     {by_lines.lines} lines, {by_lines.characters} characters ({by_lines.case})")
    print(f"budget:         {BUDGET_CHARACTERS} characters, {BUDGET_LINES} lines")
    if args.all:
        for item in sorted(lengths, key=lambda d: -d.characters):
            print(f"{item.characters:6d} {item.lines:4d}  {item.case}: {item.summary[:70]}")


if __name__ == "__main__":
    main()
