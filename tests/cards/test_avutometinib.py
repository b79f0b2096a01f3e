"""Avutometinib + defactinib: ocular table, skin, liver, rhabdomyolysis, monitoring, prophylaxis."""

from __future__ import annotations

import pytest

from cards.model import RenderedCard
from terminology.model import HistoryCondition, LabResult
from tests.cards.builders import days_ago, event, facts, graded, lab, order, request
from tests.cards.helpers import action_kinds, only, run

DRUG = "avutometinib-defactinib"
ON_RECORD = order(DRUG, 200, 2, ident="avd", draft=False, status="active", start=days_ago(50))


def normal_labs() -> tuple[LabResult, ...]:
    return tuple(
        lab(a, v, u, days_ago(2), ident=f"{a}-n", baseline=v)
        for a, v, u in (
            ("alt", 20, 40),
            ("ast", 20, 40),
            ("bilirubin", 0.5, 1.2),
            ("ck", 80, 200),
            ("creatinine", 0.8, 1.2),
        )
    )


def management(cards: list[RenderedCard]) -> RenderedCard:
    found = [c for c in cards if c.drug == DRUG and c.decision not in ("monitor", "prophylaxis")]
    assert len(found) == 1, [(c.decision, c.card.summary) for c in cards]
    return found[0]


@pytest.mark.parametrize(
    ("grade", "decision", "indicator", "resume"),
    [
        (1, "continue", "info", None),
        (2, "withhold", "warning", "same or a reduced dose"),
        (3, "withhold", "critical", "reduced dose or discontinue"),
        (4, "discontinue", "critical", None),
    ],
)
def test_ocular_table(grade: int, decision: str, indicator: str, resume: str | None) -> None:
    patient = facts(
        events=(event("Blurred vision", grade, days_ago(1)),), labs=normal_labs(), medications=(ON_RECORD,)
    )
    card = management(run(request("patient-view", patient)))
    assert (card.decision, card.card.indicator) == (decision, indicator)
    assert f"Ocular toxicity grade {grade}" in card.card.summary
    if resume:
        assert resume in (card.card.detail or "")
    if decision in ("withhold", "discontinue"):
        status = "on-hold" if decision == "withhold" else "stopped"
        assert card.card.suggestions and card.card.suggestions[0].actions
        assert (card.card.suggestions[0].actions[0].resource or {})["status"] == status


def test_reductions_are_worded_per_prescribing_information_without_dose_change() -> None:
    patient = facts(
        events=(event("Retinopathy", 3, days_ago(1)),), labs=normal_labs(), medications=(ON_RECORD,)
    )
    card = management(run(request("order-select", patient, order(DRUG, 200, 2))))
    assert "per the prescribing information" in (card.card.detail or "")
    assert all(kind != ("update", "MedicationRequest") for kind in action_kinds(card))


def test_skin_grade_3_withholds_and_asks_about_scar() -> None:
    patient = facts(
        events=(event("Rash maculo-papular", 3, days_ago(1)),), labs=normal_labs(), medications=(ON_RECORD,)
    )
    card = management(run(request("patient-view", patient)))
    assert card.decision == "withhold"
    assert "severe cutaneous adverse reaction" in (card.card.detail or "")
    assert "avutometinib-defactinib.skin.grade-4-or-scar" in card.rule_ids


def test_suspected_scar_discontinues() -> None:
    rash = event("Rash maculo-papular", 3, days_ago(1), qualifiers=(("suspected-scar", True),))
    patient = facts(events=(rash,), labs=normal_labs(), medications=(ON_RECORD,))
    card = management(run(request("patient-view", patient)))
    assert card.decision == "discontinue"


def test_dress_history_discontinues() -> None:
    dress = HistoryCondition(resource="Condition/d", kind="dress", display="DRESS")
    patient = facts(conditions=(dress,), labs=normal_labs(), medications=(ON_RECORD,))
    assert management(run(request("patient-view", patient))).decision == "discontinue"


def test_hepatotoxicity_grade_3_unknown_symptoms_asks() -> None:
    alt = lab("alt", 300, 40, days_ago(1), ident="alt-high")
    patient = facts(
        events=(graded("Alanine aminotransferase increased", 3, alt),),
        labs=(alt, *normal_labs()[1:]),
        medications=(ON_RECORD,),
    )
    card = management(run(request("patient-view", patient)))
    assert card.decision == "check"
    assert "whether the grade 3 liver test elevation is symptomatic" in (card.card.detail or "")
    (choice,) = card.card.suggestions or ()  # the symptomatic branch, offered, not recommended
    assert choice.label == "If symptomatic: withhold" and not choice.isRecommended


def test_hepatotoxicity_symptomatic_grade_3_withholds() -> None:
    alt = lab("alt", 300, 40, days_ago(1), ident="alt-high")
    symptoms = event(
        "Alanine aminotransferase increased", 3, days_ago(0.5), qualifiers=(("symptomatic", True),)
    )
    patient = facts(
        events=(graded("Alanine aminotransferase increased", 3, alt), symptoms),
        labs=(alt, *normal_labs()[1:]),
        medications=(ON_RECORD,),
    )
    card = management(run(request("patient-view", patient)))
    assert (card.decision, card.card.indicator) == ("withhold", "critical")


def test_rhabdomyolysis_needs_creatinine_baseline() -> None:
    ck = lab("ck", 2500, 200, days_ago(1), ident="ck-high")
    creat = lab("creatinine", 1.4, 1.2, days_ago(1), ident="cr", baseline=0.8)
    patient = facts(events=(graded("CPK increased", 4, ck),), labs=(ck, creat), medications=(ON_RECORD,))
    card = management(run(request("patient-view", patient)))
    assert card.rule_ids[0] == "avutometinib-defactinib.rhabdomyolysis.cpk-creatinine"
    assert "1.7 x baseline" in (card.card.detail or "")


def test_rhabdomyolysis_without_baseline_says_what_is_missing() -> None:
    ck = lab("ck", 2500, 200, days_ago(1), ident="ck-high")
    creat = lab("creatinine", 1.4, 1.2, days_ago(1), ident="cr")
    patient = facts(labs=(ck, creat), medications=(ON_RECORD,))
    card = management(run(request("patient-view", patient)))
    assert card.decision == "check"
    assert "creatinine baseline: not known" in (card.card.detail or "")


def test_any_grade_cpk_with_aki_withholds() -> None:
    patient = facts(
        events=(event("CPK increased", 1, days_ago(1)), event("Acute kidney injury", 1, days_ago(1))),
        labs=normal_labs(),
        medications=(ON_RECORD,),
    )
    card = management(run(request("patient-view", patient)))
    assert card.rule_ids == ("avutometinib-defactinib.rhabdomyolysis.aki",)


def test_first_order_gets_monitoring_and_prophylaxis() -> None:
    cards = run(request("order-select", facts(), order(DRUG, 200, 2, start=days_ago(-2))))
    monitor = only(cards, DRUG, "monitor")
    assert monitor.card.indicator == "info"
    requests = [a.resource for s in monitor.card.suggestions or () for a in s.actions or ()]
    eye = next(r for r in requests if "ophthalmic" in r["code"]["text"])  # type: ignore[index]
    assert "coding" not in eye["code"]  # type: ignore[index]  # SNOMED code not verified
    # Therapy starts 2026-03-12: baseline, before cycle 2 (+28 d), then every 3 cycles (cycle 5: +112 d).
    assert eye["occurrenceTiming"]["event"][:3] == ["2026-03-12", "2026-04-09", "2026-07-02"]  # type: ignore[index]
    ck = next(r for r in requests if r["code"].get("coding", [{}])[0].get("code") == "2157-6")  # type: ignore[index]
    assert ck["occurrenceTiming"]["event"][:4] == ["2026-03-12", "2026-03-26", "2026-04-09", "2026-04-23"]  # type: ignore[index]
    prophylaxis = only(cards, DRUG, "prophylaxis")
    labels = [s.label for s in prophylaxis.card.suggestions or ()]
    assert len(labels) == 2 and "Topical corticosteroid" in labels[0]
    steroid = (prophylaxis.card.suggestions or ())[0].actions[0].resource  # type: ignore[index]
    assert "face, scalp, neck, upper chest and upper back" in steroid["dosageInstruction"][0]["text"]  # type: ignore[index]
    assert steroid["dispenseRequest"]["validityPeriod"] == {"start": "2026-03-10", "end": "2026-05-04"}  # type: ignore[index]


def test_continuing_therapy_gets_no_prophylaxis() -> None:
    cards = run(
        request("order-select", facts(labs=normal_labs(), medications=(ON_RECORD,)), order(DRUG, 200, 2)),
        monitoring=True,
    )
    # The follow-up card (ALP and the cycle-2 eye exam are not on record) replaces the whole schedule.
    assert [(c.decision, c.rule_ids) for c in cards if c.drug == DRUG] == [
        ("monitor", ("avutometinib-defactinib.monitoring.schedule",))
    ]


def test_ocular_rules_follow_the_ctcae_version_of_the_facts() -> None:
    patient = facts(
        events=(event("Blurred vision", 3, days_ago(1)),), labs=normal_labs(), medications=(ON_RECORD,)
    )
    v6 = type(patient)(
        ctcae_version="6.0",
        timelines=patient.timelines,
        labs=patient.labs,
        medications=patient.medications,
    )
    card = management(run(request("patient-view", v6)))
    assert card.rule_ids == ("avutometinib-defactinib.ocular.grade-3",)


def test_only_an_active_aki_diagnosis_counts_with_raised_cpk() -> None:
    labs = (*[x for x in normal_labs() if x.analyte != "ck"], lab("ck", 300, 200, days_ago(1), ident="ck"))
    old_aki = HistoryCondition(resource="Condition/aki", kind="aki", display="AKI", active=False)
    patient = facts(conditions=(old_aki,), labs=labs, medications=(ON_RECORD,))
    assert [c.decision for c in run(request("patient-view", patient))] == []
    aki = HistoryCondition(resource="Condition/aki", kind="aki", display="AKI")
    patient = facts(conditions=(aki,), labs=labs, medications=(ON_RECORD,))
    assert management(run(request("patient-view", patient))).rule_ids == (
        "avutometinib-defactinib.rhabdomyolysis.aki",
    )


def test_scar_caused_by_another_drug_does_not_discontinue() -> None:
    dress = HistoryCondition(
        resource="Condition/d", kind="dress", display="DRESS", suspect_drugs=("allopurinol",)
    )
    patient = facts(conditions=(dress,), labs=normal_labs(), medications=(ON_RECORD,))
    assert [c.decision for c in run(request("patient-view", patient))] == []
