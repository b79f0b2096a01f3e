"""The reference request set is deterministic, sized as specified and valid FHIR R4."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import orjson
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient

from benchmarks.payloads import (
    LAB_ANALYTES,
    order_select_request,
    order_sign_request,
    patient_view_request,
    reference_set,
    with_si_creatinine,
)

ANCHOR = date(2026, 3, 9)


def _entries(body: dict, key: str) -> list[dict]:
    return [e["resource"] for e in body["prefetch"][key]["entry"]]


def test_same_seed_and_anchor_give_identical_bytes() -> None:
    first = [orjson.dumps(r.body) for r in reference_set(anchor=ANCHOR)]
    second = [orjson.dumps(r.body) for r in reference_set(anchor=ANCHOR)]
    assert first == second


def test_another_seed_changes_the_values() -> None:
    assert orjson.dumps(order_sign_request(200, seed=1)) != orjson.dumps(order_sign_request(200, seed=2))


@pytest.mark.parametrize("count", [200, 2000])
def test_order_sign_has_the_specified_prefetch(count: int) -> None:
    body = order_sign_request(count, anchor=ANCHOR)
    labs = _entries(body, "labs")
    assert len(labs) == count
    per_code = Counter(o["code"]["coding"][0]["code"] for o in labs)
    assert per_code == {a.loinc: count // 5 for a in LAB_ANALYTES}
    assert set(per_code) == {"2157-6", "1742-6", "1920-8", "1975-2", "2160-0"}
    assert len(_entries(body, "conditions")) == 10
    assert len(_entries(body, "adverseEvents")) == 5
    assert len({o["id"] for o in labs}) == count  # ids unique
    for obs in labs:
        quantity = obs["valueQuantity"]
        assert quantity["system"] == "http://unitsofmeasure.org"
        assert quantity["code"] == quantity["unit"]
        assert obs["referenceRange"][0]["high"]["code"] == quantity["code"]


def test_labs_span_forty_weeks_up_to_the_anchor() -> None:
    labs = _entries(order_sign_request(200, anchor=ANCHOR), "labs")
    days = sorted(datetime.fromisoformat(o["effectiveDateTime"]).date() for o in labs)
    assert days[-1] == ANCHOR
    assert days[0] == ANCHOR - timedelta(weeks=40)


def test_draft_is_alectinib_600_mg_twice_daily() -> None:
    body = order_sign_request(200, anchor=ANCHOR)
    (entry,) = body["context"]["draftOrders"]["entry"]
    draft = entry["resource"]
    assert draft["status"] == "draft"
    coding = draft["medicationCodeableConcept"]["coding"][0]
    assert (coding["system"], coding["code"]) == ("http://www.nlm.nih.gov/research/umls/rxnorm", "1727455")
    assert draft["medicationCodeableConcept"]["text"] == "alectinib 600 mg"
    dosage = draft["dosageInstruction"][0]
    assert dosage["doseAndRate"][0]["doseQuantity"]["value"] == 600.0
    assert dosage["doseAndRate"][0]["doseQuantity"]["code"] == "mg"
    assert dosage["timing"]["repeat"]["frequency"] == 2
    assert dosage["timing"]["code"]["text"] == "BID"


def test_order_select_selects_the_draft() -> None:
    body = order_select_request(200, anchor=ANCHOR)
    assert body["hook"] == "order-select"
    assert body["context"]["selections"] == ["MedicationRequest/draft-alectinib"]
    assert body["hookInstance"] != order_sign_request(200, anchor=ANCHOR)["hookInstance"]


def test_patient_view_has_three_active_therapies() -> None:
    body = patient_view_request(anchor=ANCHOR)
    assert body["hook"] == "patient-view"
    assert "draftOrders" not in body["context"]
    orders = _entries(body, "medications")
    assert {o["status"] for o in orders} == {"active"}
    names = {o["medicationCodeableConcept"]["text"].split()[0] for o in orders}
    # avutometinib + defactinib are one regimen given as two products.
    assert names == {"alectinib", "pimasertib", "avutometinib", "defactinib"}


@pytest.mark.parametrize("request_", reference_set(anchor=ANCHOR)[::2], ids=lambda r: r.name)
def test_every_prefetch_value_is_valid_fhir_r4(request_) -> None:  # type: ignore[no-untyped-def]
    body = request_.body
    for value in body["prefetch"].values():
        model = Bundle if value["resourceType"] == "Bundle" else Patient
        model.model_validate(value)
    if "draftOrders" in body["context"]:
        Bundle.model_validate(body["context"]["draftOrders"])


def test_si_creatinine_variant_converts_value_and_range_and_leaves_the_original() -> None:
    body = order_sign_request(200, anchor=ANCHOR)
    variant = with_si_creatinine(body)
    before = [o for o in _entries(body, "labs") if o["code"]["coding"][0]["code"] == "2160-0"]
    after = [o for o in _entries(variant, "labs") if o["code"]["coding"][0]["code"] == "14682-9"]
    assert len(after) == len(before) == 40
    assert after[0]["valueQuantity"]["code"] == "umol/L"
    assert after[0]["valueQuantity"]["value"] == round(before[0]["valueQuantity"]["value"] * 88.42, 0)
    assert after[0]["referenceRange"][0]["high"]["value"] == round(1.1 * 88.42, 0)
    assert not any(o["code"]["coding"][0]["code"] == "14682-9" for o in _entries(body, "labs"))
