"""Pimasertib: rash management, dose ranges, assessments and the possible-DLT flag."""

from __future__ import annotations

import pytest

from tests.cards.builders import days_ago, event, facts, order, request
from tests.cards.helpers import only, run

DRUG = "pimasertib"
ON_RECORD = order(DRUG, 60, 2, ident="pim", draft=False, status="active", start=days_ago(30))


@pytest.mark.parametrize(
    ("grade", "decision", "indicator", "oral"),
    [
        (1, "supportive-care", "info", False),
        (2, "supportive-care", "info", True),
        (3, "withhold", "critical", True),
    ],
)
def test_rash_grades(grade: int, decision: str, indicator: str, oral: bool) -> None:
    patient = facts(events=(event("Rash acneiform", grade, days_ago(1)),), medications=(ON_RECORD,))
    cards = run(request("patient-view", patient))
    card = only(cards, DRUG, decision)
    assert card.card.indicator == indicator
    labels = " ".join(s.label for s in card.card.suggestions or ())
    assert ("doxycycline" in labels) is oral
    codes = [
        a.resource["medicationCodeableConcept"].get("coding", [{}])[0].get("code")
        for s in card.card.suggestions or ()
        for a in s.actions or ()
        if a.resource and a.resource["resourceType"] == "MedicationRequest"
    ]
    assert "5492" in codes  # hydrocortisone
    if grade == 3:
        assert "grade <= 1" in (card.card.detail or "")
        assert card.card.suggestions and card.card.suggestions[0].actions[0].resource["status"] == "on-hold"  # type: ignore[index]
    else:
        assert "SPF >= 30" in (card.card.detail or "") or grade > 1


def test_grade_4_rash_keeps_the_grade_3_withhold_action() -> None:
    patient = facts(events=(event("Rash acneiform", 4, days_ago(1)),), medications=(ON_RECORD,))
    cards = run(request("patient-view", patient))
    card = only(cards, DRUG, "withhold")
    assert (card.rule_ids[0], card.card.indicator) == ("pimasertib.rash.grade-4", "critical")
    assert "Acneiform rash grade 4: withhold" in card.card.summary
    assert "Not confirmed in the sources held here" in (card.card.detail or "")
    # The unconfirmed grade-4 rule adds caution; the confirmed grade-3 withhold is never taken away.
    choice = (card.card.suggestions or ())[0]
    assert choice.label == "Withhold Pimasertib" and choice.isRecommended
    assert [a.type for a in choice.actions or ()] == ["update"]
    assert "`pimasertib.rash.grade-3`" in (card.card.detail or "")
    assert only(cards, DRUG, "flag-dlt").card.indicator == "warning"


def test_grade_3_rash_is_also_a_possible_dlt() -> None:
    patient = facts(events=(event("Rash acneiform", 3, days_ago(1)),), medications=(ON_RECORD,))
    card = only(run(request("patient-view", patient)), DRUG, "flag-dlt")
    assert card.card.indicator == "warning"
    assert "Possible DLT grade 3" in card.card.summary


def test_grade_4_neutropenia_needs_more_than_5_days_for_dlt() -> None:
    short = facts(events=(event("Neutrophil count decreased", 4, days_ago(3)),), medications=(ON_RECORD,))
    assert [c for c in run(request("patient-view", short)) if c.decision == "flag-dlt"] == []
    long = facts(events=(event("Neutrophil count decreased", 4, days_ago(6)),), medications=(ON_RECORD,))
    assert only(run(request("patient-view", long)), DRUG, "flag-dlt")


@pytest.mark.parametrize(
    ("amount", "per_day", "fires"),
    [(60, 2, False), (61, 2, True), (45, 2, False), (120, 1, True), (150, 1, True)],
)
def test_dlt_dose_range(amount: float, per_day: float, fires: bool) -> None:
    cards = run(request("order-select", facts(medications=(ON_RECORD,)), order(DRUG, amount, per_day)))
    found = [c for c in cards if c.decision == "dose-range"]
    assert bool(found) is fires
    if fires:
        assert found[0].card.indicator == "warning"
        assert "60 mg twice daily" in (found[0].card.detail or "")


def test_folfiri_mtd() -> None:
    irinotecan = order("irinotecan", None, None, ident="iri", draft=True)
    cards = run(request("order-select", facts(medications=(ON_RECORD,)), order(DRUG, 30, 2), irinotecan))
    card = only(cards, DRUG, "dose-range")
    assert card.rule_ids == ("pimasertib.dose.folfiri-mtd",)
    assert "45 mg daily" in (card.card.detail or "")


def test_pi3k_mtor_caution() -> None:
    everolimus = order("everolimus", 10, 1, ident="evr", draft=False, status="active", start=days_ago(10))
    cards = run(request("order-select", facts(medications=(ON_RECORD, everolimus)), order(DRUG, 15, 2)))
    assert only(cards, DRUG, "dose-range").rule_ids == ("pimasertib.dose.pi3k-mtor",)


def test_unreadable_dose_says_so() -> None:
    cards = run(request("order-select", facts(medications=(ON_RECORD,)), order(DRUG, None, None)))
    card = only(cards, DRUG, "data-missing")
    assert "the dose of MedicationRequest/draft-1" in (card.card.detail or "")


def test_new_start_schedules_assessments() -> None:
    cards = run(request("order-sign", facts(), order(DRUG, 60, 2, start=days_ago(-1))))
    card = only(cards, DRUG, "monitor")
    requests = [a.resource for s in card.card.suggestions or () for a in s.actions or ()]
    texts = [r["code"]["text"] for r in requests]  # type: ignore[index]
    assert any("DLQI" in t for t in texts) and any("VAS" in t for t in texts)
    exam = requests[0]
    assert exam["occurrenceTiming"]["event"] == ["2026-03-11", "2026-03-25", "2026-04-08", "2026-05-06"]  # type: ignore[index]
