"""The mg strength of one dose unit (capsule, tablet): Medication ingredient, RxNorm clinical drug, text."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from terminology.drugs import RXNORM_SYSTEM
from terminology.errors import TerminologyError
from terminology.fhir import as_float, as_list, as_map, as_str, codings

__all__ = ["Strength", "UnitForm", "clinical_drug_strengths", "strength_of", "unit_form"]

MASS_TO_MG = {"mg": 1.0, "g": 1000.0, "ug": 0.001, "mcg": 0.001}
ORDERABLE_FORM_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm"
SNOMED = "http://snomed.info/sct"
# A dose unit as written in doseQuantity: UCUM annotations and words ("{pill}", "capsules", "Tab").
_WORDS = {
    "pill": "pill",
    "pills": "pill",
    "capsule": "capsule",
    "capsules": "capsule",
    "cap": "capsule",
    "caps": "capsule",
    "tablet": "tablet",
    "tablets": "tablet",
    "tab": "tablet",
    "tabs": "tablet",
    "tbl": "tablet",
}
# Form codes: HL7 v3 orderableDrugForm CAP/TAB; SNOMED CT dose form and unit of presentation
# concepts (concept titles: 385049006 Capsule, 385055001 Tablet, 732937005 Capsule (unit of
# presentation), 732936001 Tablet (unit of presentation)).
_CODES: dict[tuple[str | None, str | None], str] = {
    (ORDERABLE_FORM_SYSTEM, "CAP"): "capsule",
    (ORDERABLE_FORM_SYSTEM, "TAB"): "tablet",
    (SNOMED, "385049006"): "capsule",
    (SNOMED, "385055001"): "tablet",
    (SNOMED, "732937005"): "capsule",
    (SNOMED, "732936001"): "tablet",
}
# The strength of one unit as products and sigs write it: "150 MG Oral Capsule", "150mg hard
# capsules", "150 mg per capsule", "150 mg/tab", "(150 mg each)". Only form words may stand between
# the amount and the form: in "600 mg (4 capsules)" or "600 mg = 4 caps" the amount is the dose,
# not the strength of a capsule.
_FORM = r"capsules?|caps?|tablets?|tabs?|pills?"
_MASS = r"(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>mg|g|mcg|ug)\b"
_TEXT_STRENGTH = re.compile(
    _MASS + r"(?:\s+(?:oral|po|hard|soft|gelatin|film[- ]coated|coated))*\s+(?P<form>" + _FORM + r")\b"
    r"|"
    + _MASS.replace("amount", "amount2").replace("unit", "unit2")
    + r"\s*(?:per\s+|/\s*)(?P<form2>"
    + _FORM
    + r")\b"
    r"|\(\s*" + _MASS.replace("amount", "amount3").replace("unit", "unit3") + r"\s+each\s*\)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class UnitForm:
    """A dose unit that counts units of a product: its form ("capsule", "tablet", "pill": either)."""

    form: str


@dataclass(frozen=True, slots=True)
class Strength:
    """Milligrams in one unit of the ordered product and where that was read."""

    mg_per_unit: float
    form: str | None  # "capsule", "tablet", or None when not stated
    source: str  # e.g. "RxNorm 1727479 alectinib 150 MG Oral Capsule"


def _word(text: str | None) -> str | None:
    if not text:
        return None
    cleaned = text.strip().strip("{}").strip().lower().removesuffix("(s)").strip()
    return _WORDS.get(cleaned)


def unit_form(quantity: Mapping[str, Any]) -> UnitForm | None:
    """The form a doseQuantity counts ("4 {pill}", "4 CAP"), or None when it is no count of units."""
    system, code, unit = (
        as_str(quantity.get("system")),
        as_str(quantity.get("code")),
        as_str(quantity.get("unit")),
    )
    if code is not None and (system, code) in _CODES:
        return UnitForm(_CODES[(system, code)])
    for text in (code, unit):
        form = _word(text)
        if form is not None:
            return UnitForm(form)
    return None


@cache
def clinical_drug_strengths() -> Mapping[str, tuple[float, str, str]]:
    """RxNorm code -> (mg per unit, form, display), from the packaged clinical_drugs.toml."""
    try:
        raw = resources.files("terminology.data").joinpath("clinical_drugs.toml").read_text("utf-8")
        data = tomllib.loads(raw)
        return {
            code: (float(row["strength_mg"]), str(row["form"]), str(row["display"]))
            for code, row in data["rxnorm"].items()
        }
    except (OSError, KeyError, TypeError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise TerminologyError("packaged clinical drug strengths are missing or malformed") from exc


def _mass_mg(quantity: Mapping[str, Any]) -> float | None:
    value = as_float(quantity.get("value"))
    unit = as_str(quantity.get("code")) or as_str(quantity.get("unit"))
    if value is None or unit is None or unit.lower() not in MASS_TO_MG:
        return None
    return value * MASS_TO_MG[unit.lower()]


def _from_medication(medication: Mapping[str, Any]) -> Strength | None:
    """One active ingredient whose strength is mg per one unit (Ratio numerator / denominator)."""
    ingredients = [as_map(i) for i in as_list(medication.get("ingredient"))]
    active = [i for i in ingredients if i.get("isActive") is not False and i.get("strength")]
    if len(active) != 1:
        return None
    ratio = as_map(active[0].get("strength"))
    numerator, denominator = as_map(ratio.get("numerator")), as_map(ratio.get("denominator"))
    mg = _mass_mg(numerator)
    per = as_float(denominator.get("value")) if denominator else 1.0
    if mg is None or not per or per <= 0:
        return None
    unit = as_str(denominator.get("code")) or as_str(denominator.get("unit"))
    counted = unit_form(denominator) if denominator else None
    if denominator and counted is None and unit not in (None, "1"):
        return None  # e.g. mg/mL: not a strength per unit
    form = counted.form if counted else _form_of(medication.get("form"))
    where = f"Medication/{medication.get('id')}" if medication.get("id") else "the Medication"
    return Strength(mg / per, form, f"{where} ingredient strength {mg / per:g} mg per {form or 'unit'}")


def _form_of(concept: Any) -> str | None:
    for system, code, display in codings(concept):
        if (system, code) in _CODES:
            return _CODES[(system, code)]
        for word in (display or "").lower().split():
            if _word(word):
                return _word(word)
    return None


def _from_text(text: str) -> Strength | None:
    match = _TEXT_STRENGTH.search(text)
    if match is None:
        return None
    for suffix in ("", "2", "3"):
        if match.group("amount" + suffix) is not None:
            mg = float(match.group("amount" + suffix)) * MASS_TO_MG[match.group("unit" + suffix).lower()]
            form = _word(match.group("form" + suffix)) if suffix != "3" else None
            return Strength(mg, form, f"'{text}'")
    return None


def strength_of(
    concepts: Iterable[Any], texts: Iterable[str], medication: Mapping[str, Any] | None = None
) -> Strength | None:
    """The strength per unit: Medication.ingredient.strength, else a known RxNorm code, else the text."""
    if medication is not None:
        found = _from_medication(medication)
        if found is not None:
            return found
    concepts = list(concepts)
    known = clinical_drug_strengths()
    for system, code, _ in (c for concept in concepts for c in codings(concept)):
        if system == RXNORM_SYSTEM and code is not None and code in known:
            mg, form, display = known[code]
            return Strength(mg, form, f"RxNorm {code} {display}")
    displays = [d for concept in concepts for _, _, d in codings(concept) if d]
    for text in [*texts, *displays]:
        found = _from_text(text)
        if found is not None:
            return found
    return None
