"""Doses written as a count of units: strength from the Medication, RxNorm clinical drug or text."""

from __future__ import annotations

from typing import Any

import pytest

from terminology.orders import read_order
from terminology.strength import clinical_drug_strengths, unit_form

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
BID = {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}}


def _order(
    quantity: dict[str, Any] | None, medication: dict[str, Any], text: str | None = None
) -> dict[str, Any]:
    dosage: dict[str, Any] = {"timing": BID}
    if quantity is not None:
        dosage["doseAndRate"] = [{"doseQuantity": quantity}]
    if text is not None:
        dosage["text"] = text
    return {
        "resourceType": "MedicationRequest",
        "id": "mr",
        "status": "draft",
        "intent": "order",
        **medication,
        "dosageInstruction": [dosage],
    }


SANDBOX = {
    "medicationCodeableConcept": {
        "coding": [{"system": RXNORM, "code": "1727479", "display": "alectinib 150 MG Oral Capsule"}]
    }
}


@pytest.mark.parametrize("code", ["{pill}", "{capsule}", "{Capsules}", "capsule"])
def test_sandbox_count_times_rxnorm_strength(code: str) -> None:
    dose = read_order(_order({"value": 4, "unit": code, "system": UCUM, "code": code}, SANDBOX)).dose
    assert dose.understood
    assert (dose.per_administration, dose.unit, dose.daily) == (600.0, "mg", 1200.0)
    assert dose.count == 4 and dose.strength_mg == 150
    assert dose.strength_source is not None and "RxNorm 1727479" in dose.strength_source


def test_branded_clinical_drug_is_known() -> None:
    assert clinical_drug_strengths()["1727485"][0] == 150


def test_medication_ingredient_strength_wins() -> None:
    medication = {
        "contained": [
            {
                "resourceType": "Medication",
                "id": "m1",
                "ingredient": [
                    {
                        "itemCodeableConcept": {"text": "alectinib"},
                        "strength": {
                            "numerator": {"value": 150, "unit": "mg", "code": "mg"},
                            "denominator": {
                                "value": 1,
                                "code": "TAB",
                                "system": "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm",
                            },
                        },
                    }
                ],
            }
        ],
        "medicationReference": {"reference": "#m1"},
    }
    quantity = {
        "value": 2,
        "unit": "tablet",
        "code": "TAB",
        "system": "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm",
    }
    dose = read_order(_order(quantity, medication)).dose
    assert dose.understood and dose.per_administration == 300
    assert dose.strength_source is not None and "Medication/m1" in dose.strength_source


def test_strength_per_ml_is_no_unit_strength() -> None:
    medication = {
        "contained": [
            {
                "resourceType": "Medication",
                "id": "m1",
                "ingredient": [
                    {
                        "itemCodeableConcept": {"text": "x"},
                        "strength": {
                            "numerator": {"value": 20, "code": "mg"},
                            "denominator": {"value": 1, "code": "mL"},
                        },
                    }
                ],
            }
        ],
        "medicationReference": {"reference": "#m1"},
    }
    dose = read_order(_order({"value": 4, "code": "{capsule}"}, medication)).dose
    assert not dose.understood
    assert dose.problem is not None and dose.problem.startswith("dose could not be read: 4 {capsule}")


def test_strength_from_the_medication_text() -> None:
    medication = {"medicationCodeableConcept": {"text": "alectinib 150 mg capsule"}}
    dose = read_order(_order({"value": 3, "code": "{capsule}"}, medication)).dose
    assert dose.understood and dose.per_administration == 450


def test_count_in_the_sig_text() -> None:
    dose = read_order(_order(None, SANDBOX, text="Take 4 capsules by mouth twice daily")).dose
    assert dose.understood and dose.daily == 1200 and dose.count == 4


def test_unknown_unit_is_named_and_never_mg() -> None:
    dose = read_order(_order({"value": 2, "unit": "{scoop}", "code": "{scoop}"}, SANDBOX)).dose
    assert not dose.understood
    assert dose.per_administration is None and dose.daily is None
    assert dose.problem == "dose could not be read: 2 {scoop}"


def test_no_unit_is_not_read_as_mg() -> None:
    dose = read_order(_order({"value": 600}, SANDBOX)).dose
    assert not dose.understood and dose.problem == "dose could not be read: 600 (no unit)"


def test_count_without_strength_is_not_read() -> None:
    medication = {"medicationCodeableConcept": {"text": "alectinib"}}
    dose = read_order(_order({"value": 4, "code": "{pill}"}, medication)).dose
    assert not dose.understood
    assert dose.problem == "dose could not be read: 4 {pill} (the strength of one unit is not known)"


def test_tablets_of_a_capsule_product_are_not_read() -> None:
    dose = read_order(_order({"value": 4, "code": "{tablet}"}, SANDBOX)).dose
    assert not dose.understood and dose.problem is not None and "capsule" in dose.problem


def test_mass_doses_unchanged() -> None:
    dose = read_order(_order({"value": 0.6, "code": "g"}, SANDBOX)).dose
    assert dose.understood and dose.per_administration == 600 and dose.count is None


@pytest.mark.parametrize(
    ("quantity", "form"),
    [
        ({"code": "{pill}"}, "pill"),
        ({"system": "http://snomed.info/sct", "code": "732937005"}, "capsule"),
        ({"system": "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm", "code": "TAB"}, "tablet"),
        ({"unit": "Tablets"}, "tablet"),
        ({"unit": "Capsule(s)"}, "capsule"),
        ({"code": "mL"}, None),
    ],
)
def test_unit_forms(quantity: dict[str, Any], form: str | None) -> None:
    found = unit_form(quantity)
    assert (found.form if found else None) == form


@pytest.mark.parametrize(
    "text",
    ["600 mg (4 capsules) twice daily", "Take 600 mg = 4 caps BID", "600 mg twice daily, capsules"],
)
def test_a_dose_in_mg_next_to_a_count_is_not_a_strength(text: str) -> None:
    ingredient = {"medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "1727455"}]}}
    quantity = {"value": 4, "unit": "{capsule}", "system": UCUM, "code": "{capsule}"}
    dose = read_order(_order(quantity, ingredient, text=text)).dose
    assert not dose.understood and dose.per_administration is None
    assert dose.problem == "dose could not be read: 4 {capsule} (the strength of one unit is not known)"


@pytest.mark.parametrize(
    ("text", "mg"),
    [
        ("Take 4 capsules (150 mg each) twice daily", 600.0),
        ("ALECENSA 150 MG PO CAPS", 600.0),
        ("150 mg per capsule", 600.0),
        ("alectinib 150mg hard capsules", 600.0),
    ],
)
def test_strength_of_one_unit_written_in_text(text: str, mg: float) -> None:
    ingredient = {"medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "1727455"}]}}
    quantity = {"value": 4, "unit": "{capsule}", "system": UCUM, "code": "{capsule}"}
    dose = read_order(_order(quantity, ingredient, text=text)).dose
    assert dose.understood and dose.per_administration == mg
