"""Each preview card's detail, rendered in a 400-pixel-wide EHR panel, fits in one screen."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.web import SAMPLES_DIR
from tests.browser.conftest import Tab

pytestmark = pytest.mark.browser

TIMEOUT_MS = 20_000
PANEL_WIDTH_PX = 400  # a narrow EHR side panel
SCREEN_HEIGHT_PX = 800  # one screen: a detail taller than this makes the clinician scroll
SAMPLES = json.loads((SAMPLES_DIR / "index.json").read_text(encoding="utf-8"))["samples"]
SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
SCENARIO_NOW = "2026-03-16T10:00:00+01:00"  # the golden scenarios' frozen clock
# Pastes a request and the evaluation time into the preview and renders it (#cards loses its
# data-rendered mark until the new cards are drawn).
PASTE = """([request, now]) => {
  document.querySelector('#cards').removeAttribute('data-rendered');
  document.querySelector('#request').value = request;
  document.querySelector('#now').value = now;
  document.querySelector('#render').click();
}"""

# Measures every rendered card inside a panel of the given width: the detail's height and the card's.
MEASURE = """(width) => {
  const cards = document.querySelector('#cards');
  cards.style.width = width + 'px';
  cards.style.maxWidth = width + 'px';
  return [...cards.querySelectorAll('article.card')].map((card) => {
    const detail = card.querySelector('.detail');
    return {
      summary: card.querySelector('.summary').innerText,
      detail: detail ? Math.ceil(detail.getBoundingClientRect().height) : 0,
      card: Math.ceil(card.getBoundingClientRect().height),
      width: Math.ceil(card.getBoundingClientRect().width),
    };
  });
}"""


def measure_panel(tab: Tab, server: str, sample_id: str, artifacts: Path) -> list[dict[str, Any]]:
    """The cards of one preview sample, laid out in a PANEL_WIDTH_PX panel (heights in CSS pixels)."""
    page = tab.page
    page.goto(f"{server}/preview?sample={sample_id}")
    page.wait_for_selector("#cards[data-rendered]", timeout=TIMEOUT_MS)
    measured: list[dict[str, Any]] = page.evaluate(MEASURE, PANEL_WIDTH_PX)
    page.locator("#cards").screenshot(path=str(artifacts / f"panel-{PANEL_WIDTH_PX}-{sample_id}.png"))
    return measured


@pytest.mark.parametrize("sample", SAMPLES, ids=[s["id"] for s in SAMPLES])
def test_card_detail_fits_one_screen_in_a_400px_panel(
    server: str, tab: Tab, sample: dict[str, Any], artifacts: Path
) -> None:
    cards = measure_panel(tab, server, sample["id"], artifacts)
    assert cards, f"no card for sample {sample['id']}"
    too_tall = [(c["summary"], c["detail"]) for c in cards if c["detail"] > SCREEN_HEIGHT_PX]
    assert too_tall == [], (
        f"details taller than {SCREEN_HEIGHT_PX} px at {PANEL_WIDTH_PX} px wide: {too_tall}"
    )


def test_every_golden_scenario_card_fits_one_screen_in_a_400px_panel(
    server: str, tab: Tab, artifacts: Path
) -> None:
    """Every card of every golden scenario (tests/scenarios), pasted into the preview at the scenarios'
    clock: no detail is taller than one screen at 400 px wide."""
    page = tab.page
    page.goto(f"{server}/preview")
    page.wait_for_selector("#sample option", state="attached", timeout=TIMEOUT_MS)
    heights: list[tuple[int, str, str]] = []
    for case in sorted(p for p in SCENARIOS.iterdir() if (p / "request.json").is_file()):
        page.evaluate(PASTE, [(case / "request.json").read_text(encoding="utf-8"), SCENARIO_NOW])
        page.wait_for_selector("#cards[data-rendered]", state="attached", timeout=TIMEOUT_MS)
        heights += [(c["detail"], case.name, c["summary"]) for c in page.evaluate(MEASURE, PANEL_WIDTH_PX)]
    tallest = max(heights)
    request = (SCENARIOS / tallest[1] / "request.json").read_text(encoding="utf-8")
    page.evaluate(PASTE, [request, SCENARIO_NOW])
    page.wait_for_selector("#cards[data-rendered]", state="attached", timeout=TIMEOUT_MS)
    page.locator("#cards").screenshot(path=str(artifacts / f"panel-{PANEL_WIDTH_PX}-golden-tallest.png"))
    assert len({h[1] for h in heights}) >= 100, "the golden scenarios were not all rendered"
    too_tall = [h for h in heights if h[0] > SCREEN_HEIGHT_PX]
    assert too_tall == [], f"details taller than {SCREEN_HEIGHT_PX} px (tallest {tallest}): {too_tall}"
    assert tab.errors == []


def test_the_panel_measurement_lays_cards_out_at_the_panel_width(
    server: str, tab: Tab, artifacts: Path
) -> None:
    """The measurement itself: cards are laid out within 400 px, and a detail has a real height."""
    cards = measure_panel(tab, server, SAMPLES[0]["id"], artifacts)
    assert cards and all(c["width"] <= PANEL_WIDTH_PX for c in cards), cards
    assert any(c["detail"] > 0 for c in cards), cards
    assert tab.errors == []
