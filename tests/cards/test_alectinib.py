"""Alectinib label rules, dose ladder, desensitization and SCAR contraindication."""

from __future__ import annotations

from datetime import date

import pytest

from terminology.model import GradedEvent, HistoryCondition, LabResult
from tests.cards.builders import NOW, days_ago, event, facts, graded, lab, order, request
from tests.cards.helpers import action_kinds, only, run

ON_RECORD = order("alectinib", 600, 2, ident="old", draft=False, status="active", start=days_ago(90))


def liver(alt: float, ast: float, bili: float, *, when: float = 1) -> tuple[LabResult, ...]:
    return (
        lab("alt", alt, 40, days_ago(when), ident=f"alt-{when}"),
        lab("ast", ast, 40, days_ago(when), ident=f"ast-{when}"),
        lab("bilirubin", bili, 1.2, days_ago(when), ident=f"bili-{when}"),
    )


def ck(*values: tuple[float, float]) -> tuple[LabResult, ...]:
    return tuple(lab("ck", v, 100, days_ago(d), ident=f"ck-{d}") for v, d in values)


def test_cpk_over_5x_first_occurrence_withholds_then_same_dose() -> None:
    value = lab("ck", 700, 100, days_ago(1), ident="ck1")
    patient = facts(
        labs=(value, *liver(30, 30, 0.5)),
        events=(graded("CPK increased", 3, value),),
        medications=(ON_RECORD,),
    )
    card = only(run(request("order-select", patient, order("alectinib"))), "alectinib")
    assert card.decision == "withhold"
    assert card.rule_ids[0] == "alectinib.cpk.over-5x"
    assert card.card.indicator == "critical"
    assert "CPK increase grade 3" in card.card.summary
    assert "resume at the same dose" in (card.card.detail or "")
    assert action_kinds(card) == [("delete", "ref")]


def test_cpk_over_10x_withholds_and_names_next_level() -> None:
    value = lab("ck", 1300, 100, days_ago(1), ident="ck1")
    patient = facts(
        labs=(value, *liver(30, 30, 0.5)),
        events=(graded("CPK increased", 4, value),),
        medications=(ON_RECORD,),
    )
    card = only(run(request("order-select", patient, order("alectinib"))), "alectinib")
    assert card.rule_ids[0] == "alectinib.cpk.over-10x-or-recurrent"
    assert "450 mg twice daily" in card.card.summary


def test_second_cpk_occurrence_is_treated_like_over_10x() -> None:
    patient = facts(labs=(*ck((600, 40), (150, 30), (650, 1)), *liver(30, 30, 0.5)), medications=(ON_RECORD,))
    card = only(run(request("order-select", patient, order("alectinib"))), "alectinib")
    assert card.rule_ids == ("alectinib.cpk.over-10x-or-recurrent",)
    assert "(Observation/ck-40)" in (card.card.detail or "")


def test_resolved_cpk_resume_reduced_updates_the_draft() -> None:
    patient = facts(labs=(*ck((1300, 20), (200, 1)), *liver(30, 30, 0.5)), medications=(ON_RECORD,))
    card = only(run(request("order-sign", patient, order("alectinib", 600, 2))), "alectinib")
    assert card.decision == "resume-reduced"
    assert card.card.indicator == "warning"
    (suggestion,) = card.card.suggestions or ()
    (action,) = suggestion.actions or ()
    assert action.type == "update"
    dosage = action.resource["dosageInstruction"][0]  # type: ignore[index]
    assert dosage["doseAndRate"][0]["doseQuantity"] == {
        "value": 450,
        "unit": "mg",
        "system": "http://unitsofmeasure.org",
        "code": "mg",
    }
    assert dosage["timing"]["repeat"]["frequency"] == 2


def test_resume_reduced_is_silent_when_the_draft_is_already_reduced() -> None:
    patient = facts(labs=(*ck((1300, 20), (200, 1)), *liver(30, 30, 0.5)), medications=(ON_RECORD,))
    cards = run(request("order-sign", patient, order("alectinib", 450, 2)))
    assert [c for c in cards if c.drug == "alectinib"] == []


def test_lowest_level_means_discontinue() -> None:
    at_lowest = order("alectinib", 300, 2, ident="old", draft=False, status="active", start=days_ago(90))
    patient = facts(labs=(*ck((1300, 20), (200, 1)), *liver(30, 30, 0.5)), medications=(at_lowest,))
    card = only(run(request("order-sign", patient, order("alectinib", 300, 2))), "alectinib")
    assert card.decision == "discontinue"
    assert card.card.indicator == "critical"
    assert "lowest dose level" in card.card.summary
    assert action_kinds(card) == [("delete", "ref")]


def test_transaminase_over_5x_withholds() -> None:
    patient = facts(labs=(*liver(250, 90, 0.8), *ck((50, 1))), medications=(ON_RECORD,))
    card = only(run(request("order-select", patient, order("alectinib"))), "alectinib")
    assert card.rule_ids[0] == "alectinib.hepatic.transaminase-over-5x"
    assert card.decision == "withhold"


def test_hy_law_pattern_with_unknown_cholestasis_asks_instead_of_picking() -> None:
    patient = facts(labs=(*liver(150, 90, 3.0), *ck((50, 1))), medications=(ON_RECORD,))
    card = only(run(request("order-select", patient, order("alectinib"))), "alectinib")
    # Bilirubin > 2 x ULN (2.5 x) is not > 3 x, ALT 3.75 x ULN: only the discontinue rule could apply.
    assert card.decision == "check"
    assert card.card.indicator == "warning"
    detail = card.card.detail or ""
    assert "that cholestasis is excluded" in detail and "that hemolysis is excluded" in detail
    # Each branch's action is offered as an alternative, never pre-selected.
    (choice,) = card.card.suggestions or ()
    assert choice.label == "If no cholestasis, no hemolysis: discontinue permanently"
    assert not choice.isRecommended and card.card.selectionBehavior == "at-most-one"


def test_hy_law_pattern_without_cholestasis_discontinues() -> None:
    labs = liver(150, 90, 3.0)
    alt_event = graded("Alanine aminotransferase increased", 2, labs[0])
    recorded = event(
        "Alanine aminotransferase increased",
        2,
        days_ago(0.5),
        qualifiers=(("cholestasis", False), ("hemolysis", False)),
    )
    patient = facts(labs=(*labs, *ck((50, 1))), events=(alt_event, recorded), medications=(ON_RECORD,))
    card = only(run(request("patient-view", patient)), "alectinib")
    assert card.decision == "discontinue"
    (suggestion,) = card.card.suggestions or ()
    (action,) = suggestion.actions or ()
    assert action.type == "update" and action.resource["status"] == "stopped"  # type: ignore[index]


def test_bilirubin_over_3x_withholds_on_patient_view_by_hold() -> None:
    patient = facts(labs=(*liver(30, 30, 4.0), *ck((50, 1))), medications=(ON_RECORD,))
    cards = run(request("patient-view", patient))
    card = only(cards, "alectinib")
    assert "alectinib.hepatic.bilirubin-over-3x" in card.rule_ids
    (suggestion,) = card.card.suggestions or ()
    assert suggestion.actions and suggestion.actions[0].resource["status"] == "on-hold"  # type: ignore[index]


@pytest.mark.parametrize(
    ("grade", "decision", "indicator"),
    [(3, "withhold", "critical"), (4, "discontinue", "critical")],
)
def test_renal_grades(grade: int, decision: str, indicator: str) -> None:
    patient = facts(
        events=(event("Creatinine increased", grade, days_ago(1)),),
        labs=(*liver(30, 30, 0.5), *ck((50, 1))),
        medications=(ON_RECORD,),
    )
    card = only(run(request("order-select", patient, order("alectinib"))), "alectinib")
    assert (card.decision, card.card.indicator) == (decision, indicator)


def test_symptomatic_bradycardia_withholds_and_life_threatening_asks_about_contributing_drugs() -> None:
    patient = facts(
        events=(event("Sinus bradycardia", 4, days_ago(1)),),
        labs=(*liver(30, 30, 0.5), *ck((50, 1))),
        medications=(ON_RECORD,),
    )
    card = only(run(request("order-select", patient, order("alectinib"))), "alectinib")
    assert card.decision == "withhold"
    assert "alectinib.bradycardia.life-threatening" in card.rule_ids
    assert "contributing medication" in (card.card.detail or "")


def test_ild_withholds_at_once() -> None:
    patient = facts(events=(event("Pneumonitis", 2, days_ago(1)),), labs=(*liver(30, 30, 0.5), *ck((50, 1))))
    card = only(run(request("order-select", patient, order("alectinib"))), "alectinib")
    assert card.decision == "withhold"
    assert card.card.indicator == "warning"  # grade 2


def test_missing_labs_are_named() -> None:
    card = only(run(request("order-select", facts(), order("alectinib"))), "alectinib")
    assert card.decision == "data-missing"
    assert card.card.indicator == "info"
    for analyte in ("ALT", "AST", "bilirubin", "CK"):
        assert analyte in card.card.summary


def test_stale_labs_are_reported_as_missing() -> None:
    patient = facts(labs=(*liver(30, 30, 0.5, when=90), *ck((50, 90))))
    card = only(run(request("order-select", patient, order("alectinib"))), "alectinib")
    assert "older than 30 days" in (card.card.detail or "")


RASH = "Rash maculo-papular"


def rash_history(*, resolved: bool) -> tuple[GradedEvent, ...]:
    last = 0 if resolved else 3
    return (
        event(RASH, 3, days_ago(40), ident="a", suspect_drugs=("alectinib",)),
        event(RASH, last, days_ago(5), ident="b", suspect_drugs=("alectinib",)),
    )


def test_resolved_grade_3_rash_offers_desensitization_protocols() -> None:
    patient = facts(events=rash_history(resolved=True), labs=(*liver(30, 30, 0.5), *ck((50, 1))))
    card = only(run(request("order-select", patient, order("alectinib"))), "alectinib")
    assert card.decision == "desensitize"
    assert card.card.selectionBehavior == "at-most-one"
    labels = [s.label for s in card.card.suggestions or ()]
    assert [label.split(":")[0] for label in labels] == ["Seegobin 2020", "Shirasawa", "Kimura", "Anderson"]
    seegobin = (card.card.suggestions or ())[0]
    actions = seegobin.actions or ()
    assert actions[0].type == "delete"
    steps = [a.resource for a in actions[1:]]
    assert len(steps) == 5
    first = steps[0]["dosageInstruction"][0]  # type: ignore[index]
    assert first["timing"]["repeat"]["boundsPeriod"] == {"start": "2026-03-11", "end": "2026-03-12"}
    fourth = steps[3]["dosageInstruction"]  # type: ignore[index]
    assert [d["doseAndRate"][0]["doseQuantity"]["value"] for d in fourth] == [450, 600]
    assert steps[4]["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"] == {"start": "2026-04-03"}  # type: ignore[index]
    assert (date(2026, 4, 3) - date(2026, 3, 11)).days == 23  # 2 + 5 + 8 + 8 days of steps
    assert "150 mg BID outpatient start without steroids failed" not in labels
    assert "failed on day 1" in (card.card.detail or "") or "2023" in (card.card.detail or "")


def test_ongoing_rash_withholds_and_offers_no_desensitization() -> None:
    patient = facts(events=rash_history(resolved=False), labs=(*liver(30, 30, 0.5), *ck((50, 1))))
    card = only(run(request("order-select", patient, order("alectinib"))), "alectinib")
    assert card.decision == "withhold"
    assert card.rule_ids == ("alectinib.rash.ongoing",)


def test_prior_checkpoint_inhibitor_is_warned_on_the_desensitization_card() -> None:
    pembro = order(
        "pembrolizumab", None, None, ident="pem", draft=False, status="completed", start=days_ago(200)
    )
    patient = facts(
        events=rash_history(resolved=True), labs=(*liver(30, 30, 0.5), *ck((50, 1))), medications=(pembro,)
    )
    card = only(run(request("order-select", patient, order("alectinib"))), "alectinib")
    assert "alectinib.rash.prior-checkpoint-inhibitor" in card.rule_ids
    assert "MedicationRequest/pem" in (card.card.detail or "")


def test_scar_history_contraindicates_and_suggests_other_alk_inhibitors() -> None:
    sjs = HistoryCondition(
        resource="Condition/sjs", kind="sjs", display="Stevens-Johnson syndrome", suspect_drugs=("alectinib",)
    )
    patient = facts(
        events=rash_history(resolved=True), conditions=(sjs,), labs=(*liver(30, 30, 0.5), *ck((50, 1)))
    )
    card = only(run(request("order-select", patient, order("alectinib"))), "alectinib")
    assert card.decision == "contraindicated"
    assert card.card.indicator == "critical"
    assert "alectinib.rash.desensitize" not in card.rule_ids
    labels = [s.label for s in card.card.suggestions or ()]
    assert labels == ["Stop Alectinib", "Switch to brigatinib", "Switch to lorlatinib"]
    assert card.card.selectionBehavior == "at-most-one"
    create = (card.card.suggestions or ())[1].actions[1]  # type: ignore[index]
    assert create.resource["medicationCodeableConcept"]["coding"][0]["code"] == "1921217"  # type: ignore[index]


def test_scar_from_another_drug_or_before_any_exposure_does_not_contraindicate() -> None:
    labs = (*liver(30, 30, 0.5), *ck((50, 1)))
    other = HistoryCondition(
        resource="Condition/sjs",
        kind="sjs",
        display="Stevens-Johnson syndrome",
        suspect_drugs=("allopurinol",),
    )
    unattributed = HistoryCondition(resource="Condition/sjs", kind="sjs", display="Stevens-Johnson syndrome")
    for condition in (other, unattributed):  # first alectinib order: nothing on record
        assert (
            run(request("order-select", facts(conditions=(condition,), labs=labs), order("alectinib"))) == []
        )
    # Unattributed SJS while alectinib is on record: counts (the drug may have caused it).
    patient = facts(conditions=(unattributed,), labs=labs, medications=(ON_RECORD,))
    card = only(run(request("order-select", patient, order("alectinib"))), "alectinib")
    assert card.decision == "contraindicated"


def test_life_threatening_bradycardia_follows_the_contributing_drug() -> None:
    labs = (*liver(30, 30, 0.5), *ck((50, 1)))
    stopped = event("Sinus bradycardia", 4, days_ago(1), qualifiers=(("contributing-drug-stopped", True),))
    patient = facts(events=(stopped,), labs=labs, medications=(ON_RECORD,))
    card = only(run(request("order-select", patient, order("alectinib"))), "alectinib")
    assert (card.decision, card.card.indicator) == ("withhold", "critical")
    assert card.rule_ids[0] == "alectinib.bradycardia.life-threatening-withhold"
    assert "resume at 450 mg twice daily" in card.card.summary
    recurrent = (
        event(
            "Sinus bradycardia", 4, days_ago(20), ident="1", qualifiers=(("contributing-drug-stopped", True),)
        ),
        event("Sinus bradycardia", 0, days_ago(10), ident="2"),
        event(
            "Sinus bradycardia", 4, days_ago(1), ident="3", qualifiers=(("contributing-drug-stopped", True),)
        ),
    )
    patient = facts(events=recurrent, labs=labs, medications=(ON_RECORD,))
    card = only(run(request("order-select", patient, order("alectinib"))), "alectinib")
    assert (card.decision, card.rule_ids[0]) == ("discontinue", "alectinib.bradycardia.life-threatening")


def test_interruption_after_desensitization_warns_against_full_dose() -> None:
    system = "https://toxhooks.org/fhir/desensitization"
    steps = (
        order(
            "alectinib",
            150,
            2,
            ident="s1",
            draft=False,
            status="completed",
            start=days_ago(60),
            end=days_ago(58),
            group=system,
        ),
        order(
            "alectinib",
            600,
            2,
            ident="s5",
            draft=False,
            status="stopped",
            start=days_ago(37),
            end=days_ago(7),
        ),
    )
    patient = facts(labs=(*liver(30, 30, 0.5), *ck((50, 1))), medications=steps)
    card = only(run(request("order-select", patient, order("alectinib", 600, 2))), "alectinib")
    assert card.decision == "desensitize"
    assert card.rule_ids == ("alectinib.desensitization.interrupted",)
    assert "Do not restart at the full dose" in (card.card.detail or "")


def test_no_gap_after_desensitization_is_silent() -> None:
    system = "https://toxhooks.org/fhir/desensitization"
    steps = (
        order(
            "alectinib",
            150,
            2,
            ident="s1",
            draft=False,
            status="completed",
            start=days_ago(30),
            end=days_ago(28),
            group=system,
        ),
        order("alectinib", 600, 2, ident="s5", draft=False, status="active", start=days_ago(7)),
    )
    patient = facts(labs=(*liver(30, 30, 0.5), *ck((50, 1))), medications=steps)
    assert [
        c for c in run(request("order-select", patient, order("alectinib"))) if c.drug == "alectinib"
    ] == []


def test_now_is_the_injected_clock() -> None:
    assert NOW.utcoffset() is not None and NOW.utcoffset().total_seconds() == 7200  # type: ignore[union-attr]


def test_unconfirmed_rule_shows_decision_without_action() -> None:
    anemia = event("Anemia", 2, days_ago(1), qualifiers=(("hemolysis", True),))
    patient = facts(events=(anemia,), labs=(*liver(30, 30, 0.5), *ck((50, 1))), medications=(ON_RECORD,))
    card = only(run(request("order-select", patient, order("alectinib"))), "alectinib")
    assert card.rule_ids == ("alectinib.hemolytic-anemia",)
    assert card.decision == "withhold"
    assert not card.card.suggestions
    assert "(not confirmed)" in (card.card.detail or "")


def test_severe_hepatic_impairment_dose() -> None:
    child_pugh_c = HistoryCondition(
        resource="Condition/cp", kind="hepatic-impairment-severe", display="Child-Pugh C"
    )
    patient = facts(conditions=(child_pugh_c,), labs=(*liver(30, 30, 0.5), *ck((50, 1))))
    card = only(run(request("order-select", patient, order("alectinib", 600, 2))), "alectinib")
    assert (card.decision, card.card.indicator) == ("dose-range", "warning")
    assert "450 mg twice daily" in (card.card.detail or "")
    assert run(request("order-select", patient, order("alectinib", 450, 2))) == []


def test_rash_during_desensitization_suggests_switching_agent() -> None:
    system = "https://toxhooks.org/fhir/desensitization"
    step = order("alectinib", 150, 2, ident="s1", draft=False, start=days_ago(3), group=system)
    rash = event(RASH, 2, days_ago(1), suspect_drugs=("alectinib",))
    patient = facts(events=(rash,), labs=(*liver(30, 30, 0.5), *ck((50, 1))), medications=(step,))
    card = only(run(request("patient-view", patient)), "alectinib")
    assert card.decision == "switch-agent"
    assert card.card.selectionBehavior == "at-most-one"
    labels = [s.label for s in card.card.suggestions or ()]
    assert labels == ["Switch to brigatinib", "Switch to lorlatinib"]
    stop = (card.card.suggestions or ())[0].actions[0]  # type: ignore[index]
    assert stop.type == "update" and (stop.resource or {})["status"] == "stopped"


def test_resolved_bilirubin_resume_reduced() -> None:
    values = (
        lab("bilirubin", 4.0, 1.2, days_ago(20), ident="b-high"),
        lab("bilirubin", 1.0, 1.2, days_ago(1), ident="b-now"),
        lab("alt", 30, 40, days_ago(1), ident="alt"),
        lab("ast", 30, 40, days_ago(1), ident="ast"),
        *ck((50, 1)),
    )
    card = only(
        run(request("order-sign", facts(labs=values, medications=(ON_RECORD,)), order("alectinib"))),
        "alectinib",
    )
    assert card.rule_ids == ("alectinib.hepatic.bilirubin-resolved-resume-reduced",)
    assert "resume at 450 mg twice daily" in card.card.summary


def test_resolved_renal_grade_3_resume_reduced() -> None:
    episode = (
        event("Creatinine increased", 3, days_ago(20), ident="a"),
        event("Creatinine increased", 1, days_ago(1), ident="b"),
    )
    values = (*liver(30, 30, 0.5), *ck((50, 1)), lab("creatinine", 1.3, 1.1, days_ago(1), ident="cr"))
    patient = facts(events=episode, labs=values, medications=(ON_RECORD,))
    card = only(run(request("order-sign", patient, order("alectinib"))), "alectinib")
    assert card.rule_ids == ("alectinib.renal.grade-3-resolved-resume-reduced",)
    assert card.decision == "resume-reduced"


def _partly_recovered(analyte: str, peak: float, now: float, uln: float) -> tuple[LabResult, ...]:
    others = {
        "alt": lab("alt", 30, 40, days_ago(1), ident="alt"),
        "ast": lab("ast", 30, 40, days_ago(1), ident="ast"),
        "bilirubin": lab("bilirubin", 0.5, 1.2, days_ago(1), ident="bili"),
        "ck": lab("ck", 50, 100, days_ago(1), ident="ck"),
    }
    others[analyte] = lab(analyte, now, uln, days_ago(1), ident=f"{analyte}-now")
    return (lab(analyte, peak, uln, days_ago(10), ident=f"{analyte}-peak"), *others.values())


@pytest.mark.parametrize(
    ("analyte", "peak", "now", "uln", "rule"),
    [
        ("alt", 240, 160, 40, "alectinib.hepatic.transaminase-over-5x"),  # 6x -> 4x ULN
        ("bilirubin", 4.0, 2.4, 1.2, "alectinib.hepatic.bilirubin-over-3x"),  # 3.3x -> 2x ULN
        ("ck", 600, 400, 100, "alectinib.cpk.over-5x"),  # 6x -> 4x ULN
    ],
)
def test_withhold_continues_until_the_label_recovery_level(
    analyte: str, peak: float, now: float, uln: float, rule: str
) -> None:
    patient = facts(labs=_partly_recovered(analyte, peak, now, uln), medications=(ON_RECORD,))
    card = only(run(request("order-sign", patient, order("alectinib"))), "alectinib")
    # The rule that opened the episode holds until its own recovery criterion is met.
    assert (card.decision, card.rule_ids[0]) == ("withhold", rule)
    assert ", not yet " in card.card.summary and "<= " in card.card.summary
    detail = card.card.detail or ""
    assert f"{analyte}-peak" in detail and f"{analyte}-now" in detail


def test_recovered_values_end_the_withhold() -> None:
    values = (
        lab("ck", 600, 100, days_ago(10), ident="ck-peak"),
        lab("ck", 200, 100, days_ago(5), ident="ck-back"),  # back to <= 2.5 x ULN
        lab("ck", 400, 100, days_ago(1), ident="ck-now"),  # a new rise below 5 x ULN
        *liver(30, 30, 0.5),
    )
    cards = run(request("order-sign", facts(labs=values, medications=(ON_RECORD,)), order("alectinib")))
    assert [c.decision for c in cards if c.drug == "alectinib"] == ["resume-same"]  # no withhold


def test_resolved_alt_resumes_reduced_even_with_a_mildly_raised_bilirubin() -> None:
    values = (
        lab("alt", 240, 40, days_ago(10), ident="alt-peak"),
        lab("alt", 100, 40, days_ago(1), ident="alt"),  # 2.5 x ULN
        lab("ast", 30, 40, days_ago(1), ident="ast"),
        lab("bilirubin", 2.0, 1.2, days_ago(1), ident="bili"),  # 1.7 x ULN, never > 3 x ULN
        *ck((50, 1)),
    )
    card = only(
        run(request("order-sign", facts(labs=values, medications=(ON_RECORD,)), order("alectinib"))),
        "alectinib",
    )
    assert card.rule_ids == ("alectinib.hepatic.resolved-resume-reduced",)
    assert "resume at 450 mg twice daily" in card.card.summary


def test_renal_grade_3_withhold_continues_until_creatinine_recovers() -> None:
    episode = (
        event("Creatinine increased", 3, days_ago(20), ident="a"),
        event("Creatinine increased", 2, days_ago(1), ident="b"),
    )
    values = (*liver(30, 30, 0.5), *ck((50, 1)), lab("creatinine", 2.2, 1.1, days_ago(1), ident="cr"))
    patient = facts(events=episode, labs=values, medications=(ON_RECORD,))
    card = only(run(request("order-sign", patient, order("alectinib"))), "alectinib")
    assert (card.decision, card.rule_ids[0]) == ("withhold", "alectinib.renal.grade-3")
    assert "not yet serum creatinine <= 1.5 x ULN" in card.card.summary
