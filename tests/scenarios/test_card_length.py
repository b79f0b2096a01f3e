"""The card-length measurement counts what a clinician would scroll through."""

from __future__ import annotations

from tests.scenarios.card_length import HERE, detail_length, golden_responses, longest, measure


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
