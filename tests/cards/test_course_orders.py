"""Stopping a desensitization course stops all its open orders; reductions start from the phase in force."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from cards.dosing import dose_at, reference_order
from service.offline import evaluate_offline
from terminology.model import DrugIdentity
from terminology.orders import read_order

SCENARIOS = Path(__file__).parents[1] / "scenarios"
NOW = datetime(2026, 3, 16, 10, 0, tzinfo=timezone(timedelta(hours=1)))
UCUM = "http://unitsofmeasure.org"


def _request(case: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCENARIOS / case / "request.json").read_text(encoding="utf-8"))
    return data


def _stopped(response: dict[str, Any]) -> dict[str, set[str]]:
    """Suggestion label -> ids of the orders it sets to stopped."""
    card = next(c for c in response["cards"] if c["source"]["topic"]["code"].startswith("alectinib."))
    return {
        s["label"]: {
            a["resource"]["id"]
            for a in s["actions"]
            if a["type"] == "update" and a["resource"]["status"] == "stopped"
        }
        for s in card["suggestions"]
    }


def test_switch_stops_every_open_order_of_the_course_and_nothing_else() -> None:
    request = _request("alectinib-desensitization-failed-stops-whole-course")
    entries = request["prefetch"]["medications"]["entry"]
    template = entries[-1]["resource"]
    done = copy.deepcopy(template) | {"id": "mr-step-old", "status": "completed"}
    other_course = copy.deepcopy(template) | {"id": "mr-other-course"}
    group = template["groupIdentifier"]
    other_course["groupIdentifier"] = {**group, "value": "alectinib-seegobin-2025-01-01"}
    other_course["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"] = {"start": "2025-01-01"}
    held = copy.deepcopy(template) | {"id": "mr-step-held", "status": "on-hold"}
    entries += [{"resource": done}, {"resource": other_course}, {"resource": held}]
    for label, ids in _stopped(evaluate_offline(request, now=NOW)).items():
        assert ids == {f"mr-step-{n}" for n in range(1, 6)} | {"mr-step-held"}, label


def test_order_without_a_group_is_stopped_alone() -> None:
    stopped = _stopped(evaluate_offline(_request("alectinib-ten-switch-drafts"), now=NOW))
    assert all(len(ids) <= 1 for ids in stopped.values())


def _phased(start: str) -> dict[str, Any]:
    lines = [
        {
            "sequence": 1,
            "timing": {
                "repeat": {
                    "frequency": 1,
                    "period": 1,
                    "periodUnit": "d",
                    "boundsDuration": {"value": 7, "unit": "d", "system": UCUM, "code": "d"},
                }
            },
            "doseAndRate": [{"doseQuantity": {"value": 90, "unit": "mg", "system": UCUM, "code": "mg"}}],
        },
        {
            "sequence": 2,
            "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
            "doseAndRate": [{"doseQuantity": {"value": 180, "unit": "mg", "system": UCUM, "code": "mg"}}],
        },
    ]
    return {
        "resourceType": "MedicationRequest",
        "id": "mr-brig",
        "status": "active",
        "intent": "order",
        "authoredOn": start,
        "medicationCodeableConcept": {"text": "brigatinib"},
        "dosageInstruction": lines,
    }


def test_reference_dose_is_the_phase_in_force_at_the_episode() -> None:
    drugs = (DrugIdentity("brigatinib", ("brigatinib",)),)
    order = read_order(_phased("2026-02-10"), drugs=drugs, now=datetime(2026, 3, 16, tzinfo=UTC))
    assert order.dose.daily == 180
    in_lead_in = reference_order((order,), "brigatinib", datetime(2026, 2, 14, tzinfo=UTC))
    assert in_lead_in is not None and in_lead_in.dose.daily == 90
    later = reference_order((order,), "brigatinib", datetime(2026, 3, 1, tzinfo=UTC))
    assert later is not None and later.dose.daily == 180


def test_single_line_order_is_kept_as_read() -> None:
    resource = _phased("2026-02-10")
    resource["dosageInstruction"] = resource["dosageInstruction"][1:]
    order = read_order(resource, drugs=(DrugIdentity("brigatinib", ("brigatinib",)),))
    assert dose_at(order, datetime(2026, 2, 11, tzinfo=UTC)) is order
