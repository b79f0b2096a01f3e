"""MedicationRequests: drug recognition (codes, then names) and dose reading."""

from __future__ import annotations

from typing import Any

import pytest

from terminology.drugs import NDC_SYSTEM, RXNORM_SYSTEM
from terminology.facts import build_facts
from terminology.model import DrugIdentity
from terminology.orders import read_order

DRUGS = (
    DrugIdentity("alectinib", ("alectinib", "Alecensa"), rxnorm=("1727455", "1727479", "1727485")),
    DrugIdentity("avutometinib-defactinib", ("avutometinib", "defactinib"), ndc=("71779-623",)),
    DrugIdentity("pimasertib", ("pimasertib",), local_codes=(("urn:local:drugs", "PIM-1"),)),
    DrugIdentity("doxycycline", ("doxycycline",), rxnorm=("3640",), role="co-medication"),
)


def _order(
    medication: dict[str, Any], dosage: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    body = {
        "resourceType": "MedicationRequest",
        "id": "m",
        "status": "active",
        "intent": "order",
    } | medication
    if dosage is not None:
        body["dosageInstruction"] = dosage
    return body | extra


@pytest.mark.parametrize(
    ("medication", "drug", "match"),
    [
        (
            {"medicationCodeableConcept": {"coding": [{"system": RXNORM_SYSTEM, "code": "1727485"}]}},
            "alectinib",
            "rxnorm",
        ),
        (
            {"medicationCodeableConcept": {"coding": [{"system": NDC_SYSTEM, "code": "71779-623-01"}]}},
            "avutometinib-defactinib",
            "ndc",
        ),
        (
            {"medicationCodeableConcept": {"coding": [{"system": "urn:local:drugs", "code": "PIM-1"}]}},
            "pimasertib",
            "local",
        ),
        ({"medicationCodeableConcept": {"text": "ALECENSA 150mg caps"}}, "alectinib", "name"),
        (
            {
                "medicationCodeableConcept": {
                    "coding": [{"system": "x", "code": "1", "display": "Pimasertib 60 mg"}]
                }
            },
            "pimasertib",
            "name",
        ),
        (
            {
                "medicationReference": {"reference": "#med"},
                "contained": [
                    {
                        "resourceType": "Medication",
                        "id": "med",
                        "code": {"coding": [{"system": RXNORM_SYSTEM, "code": "3640"}]},
                    }
                ],
            },
            "doxycycline",
            "rxnorm",
        ),
    ],
)
def test_drug_recognition(medication: dict[str, Any], drug: str, match: str) -> None:
    order = read_order(_order(medication), drugs=DRUGS)
    assert order.drug is not None
    assert (order.drug.drug, order.drug.match) == (drug, match)


def test_medication_reference_is_resolved_from_the_map() -> None:
    medication = {"resourceType": "Medication", "id": "7", "code": {"text": "Alecensa"}}
    order = read_order(
        _order({"medicationReference": {"reference": "Medication/7"}}),
        drugs=DRUGS,
        medications={"Medication/7": medication},
    )
    assert order.drug is not None and order.drug.match == "name" and order.medication_text == "Alecensa"


def test_unknown_drug_and_partial_words_are_not_matched() -> None:
    assert read_order(_order({"medicationCodeableConcept": {"text": "alectinibX"}}), drugs=DRUGS).drug is None
    assert read_order(_order({}), drugs=DRUGS).drug is None


@pytest.mark.parametrize(
    ("dosage", "per", "per_day", "daily"),
    [
        (
            [
                {
                    "timing": {"code": {"coding": [{"code": "BID"}]}},
                    "doseAndRate": [{"doseQuantity": {"value": 600, "unit": "mg"}}],
                }
            ],
            600,
            2,
            1200,
        ),
        (
            [
                {
                    "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                    "doseAndRate": [{"doseQuantity": {"value": 450, "code": "mg"}}],
                }
            ],
            450,
            2,
            900,
        ),
        (
            [
                {
                    "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "wk"}},
                    "doseAndRate": [{"doseQuantity": {"value": 3.2, "code": "mg"}}],
                }
            ],
            3.2,
            2 / 7,
            6.4 / 7,
        ),
        (
            [
                {
                    "timing": {"repeat": {"frequency": 1, "period": 12, "periodUnit": "h"}},
                    "doseAndRate": [{"doseQuantity": {"value": 0.2, "code": "g"}}],
                }
            ],
            200,
            2,
            400,
        ),
        ([{"text": "Take 60 mg by mouth twice daily"}], 60, 2, 120),
        ([{"text": "45 mg daily"}], 45, 1, 45),
        ([{"text": "100 mg q12h"}], 100, 2, 200),
    ],
)
def test_dose_reading(dosage: list[dict[str, Any]], per: float, per_day: float, daily: float) -> None:
    dose = read_order(_order({}, dosage), drugs=DRUGS).dose
    assert dose.understood
    assert dose.per_administration == pytest.approx(per)
    assert dose.administrations_per_day == pytest.approx(per_day)
    assert dose.daily == pytest.approx(daily)
    assert dose.unit == "mg"


@pytest.mark.parametrize(
    ("dosage", "problem"),
    [
        (None, "no dosageInstruction"),
        ([{"text": "600 mg BID for 2 days then 450 mg BID"}], "free-text sig not understood"),
        (
            [{"doseAndRate": [{"doseQuantity": {"value": 600, "unit": "mg"}}]}],
            "no structured timing frequency",
        ),
        ([{"timing": {"code": {"coding": [{"code": "BID"}]}}}], "no structured doseQuantity"),
        ("not a list", "no dosageInstruction"),
    ],
)
def test_dose_not_understood(dosage: Any, problem: str) -> None:
    dose = read_order(_order({}, dosage), drugs=DRUGS).dose
    assert not dose.understood and dose.problem == problem


def test_orders_on_record_feed_facts_and_therapy_start() -> None:
    order = _order(
        {"medicationCodeableConcept": {"text": "alectinib"}},
        [{"timing": {"repeat": {"boundsPeriod": {"start": "2024-03-05", "end": "2024-06-01"}}}}],
        authoredOn="2024-03-01",
    )
    facts = build_facts([order], drugs=DRUGS)
    assert len(facts.medications) == 1
    placed = facts.medications[0]
    assert placed.start is not None and placed.start.isoformat() == "2024-03-05T00:00:00+00:00"
    assert placed.end is not None and placed.authored_on is not None
    assert not placed.is_draft


def test_therapy_start_ignores_co_medications_and_cancelled_orders() -> None:
    from terminology.facts import therapy_start_of

    orders = [
        _order({"medicationCodeableConcept": {"text": "doxycycline"}}, authoredOn="2024-01-01"),
        _order(
            {"medicationCodeableConcept": {"text": "alectinib"}}, authoredOn="2024-02-01", status="cancelled"
        ),
        _order({"medicationCodeableConcept": {"text": "alectinib"}}, authoredOn="2024-03-01"),
    ]
    for i, order in enumerate(orders):
        order["id"] = f"o{i}"
    facts = build_facts(orders, drugs=DRUGS)
    start = therapy_start_of(facts.medications, DRUGS)
    assert start is not None and start.isoformat() == "2024-03-01T00:00:00+00:00"
