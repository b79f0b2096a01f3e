"""A reduced draft is written in the order's own unit when whole units give it, else in mg with a note."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from service.offline import evaluate_offline

SCENARIOS = Path(__file__).parents[1] / "scenarios"
NOW = datetime(2026, 3, 16, 10, 0, tzinfo=timezone(timedelta(hours=1)))
UCUM = "http://unitsofmeasure.org"


def _brigatinib_draft(product: str, tablets: int) -> dict[str, Any]:
    """The resolved grade 2 pneumonitis scenario with the draft written as a count of tablets."""
    path = SCENARIOS / "brigatinib-ild-resolved-resume-reduced" / "request.json"
    request: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    draft = request["context"]["draftOrders"]["entry"][0]["resource"]
    draft["medicationCodeableConcept"]["text"] = product
    quantity = {"value": tablets, "unit": "tablet", "system": UCUM, "code": "{tablet}"}
    draft["dosageInstruction"][0]["doseAndRate"] = [{"doseQuantity": quantity}]
    return request


def _reduction(request: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    cards = evaluate_offline(request, now=NOW)["cards"]
    card = next(c for c in cards if c["source"]["topic"]["code"].endswith("reduced"))
    (suggestion,) = [s for s in card["suggestions"] if s["label"].startswith("Change the draft")]
    (action,) = suggestion["actions"]
    return suggestion["label"], action


@pytest.mark.parametrize(("product", "count", "written"), [("brigatinib 30 mg tablet", 6, 4)])
def test_whole_units_keep_the_order_unit(product: str, count: int, written: int) -> None:
    label, action = _reduction(_brigatinib_draft(product, count))
    assert label == "Change the draft to 4 tablets (120 mg) once daily"
    quantity = action["resource"]["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]
    assert (quantity["value"], quantity["code"]) == (written, "{tablet}")


def test_no_whole_number_of_units_is_written_in_mg_and_says_the_product_must_change() -> None:
    label, action = _reduction(_brigatinib_draft("brigatinib 180 mg tablet", 1))
    assert label == "Change the draft to 120 mg once daily"
    quantity = action["resource"]["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]
    assert (quantity["value"], quantity["code"]) == (120, "mg")
    assert "not a whole number of 180 mg tablets" in action["description"]
