"""The card-length measurement counts what a clinician would scroll through."""

from __future__ import annotations

from typing import Any

import pytest

from tests.scenarios.card_length import (
    BUDGET_CHARACTERS,
    BUDGET_LINES,
    HERE,
    detail_length,
    golden_responses,
    longest,
    measure,
)


def test_detail_length_counts_characters_and_lines() -> None:
    card = {"summary": "S", "detail": "line one\n\n| a | b |\n|---|---|\n| 1 | 2 |"}
    measured = detail_length("case", card)
    assert (measured.characters, measured.lines) == (len(card["detail"]), 5)
    assert detail_length("case", {"summary": "no detail"}).characters == 0


def test_longest_picks_the_longest_detail_and_the_most_lines() -> None:
    responses = [
        ("a", {"cards": [{"summary": "short", "detail": "x"}]}),
        ("b", {"cards": [{"summary": "wide", "detail": "y" * 50}, {"summary": "tall", "detail": "z\n" * 9}]}),
    ]
    by_chars, by_lines = longest(measure(responses))
    assert (by_chars.case, by_chars.summary, by_chars.characters) == ("b", "wide", 50)
    assert (by_lines.summary, by_lines.lines) == ("tall", 9)


def test_every_golden_scenario_is_measured() -> None:
    cases = {p.name for p in HERE.iterdir() if (p / "request.json").is_file()}
    measured = {case for case, _ in golden_responses()}
    assert measured == cases


@pytest.fixture(scope="module")
def golden_cards() -> list[tuple[str, dict[str, Any]]]:
    """Every card of every golden scenario, with its case."""
    return [(case, card) for case, response in golden_responses() for card in response.get("cards", [])]


Cards = list[tuple[str, dict[str, Any]]]


def test_every_golden_card_detail_is_within_the_budget(golden_cards: Cards) -> None:
    lengths = measure((case, {"cards": [card]}) for case, card in golden_cards)
    over = [
        (d.case, d.summary, d.characters, d.lines)
        for d in lengths
        if d.characters > BUDGET_CHARACTERS or d.lines > BUDGET_LINES
    ]
    assert over == [], f"details over {BUDGET_CHARACTERS} characters or {BUDGET_LINES} lines: {over}"


def test_a_card_detail_is_what_and_why_then_evidence_then_one_source_line(golden_cards: Cards) -> None:
    """Toxicity cards: at most three lines before the first blank line, one source line, last."""
    for case, card in golden_cards:
        code = card["source"].get("topic", {}).get("code", "")
        if code.endswith(".monitoring") or code.startswith("service."):
            continue  # the monitoring card has its own few-line shape (tests/cards/test_monitoring.py)
        lines = card["detail"].splitlines()
        head = lines[: lines.index("")] if "" in lines else lines
        assert 1 <= len(head) <= 3, (case, head)
        sources = [line for line in lines if line.startswith("Source: ")]
        assert sources == [lines[-1]], (case, card["summary"], lines)
        assert "Knowledge:" not in card["detail"] and "Sources:" not in card["detail"], case


def test_the_budget_fails_a_long_detail() -> None:
    long = {"cards": [{"summary": "S", "detail": "x" * (BUDGET_CHARACTERS + 1)}]}
    tall = {"cards": [{"summary": "T", "detail": "y\n" * (BUDGET_LINES + 1)}]}
    lengths = measure([("long", long), ("tall", tall)])
    assert [d.characters > BUDGET_CHARACTERS or d.lines > BUDGET_LINES for d in lengths] == [True, True]
