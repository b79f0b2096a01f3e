"""Decision semantics: the decision order, decisions under uncertainty, episodes, the floor."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import get_args

from cards.decisions import ACTION_RANK, CARD_STATES, DECISIONS, category, info, phrase, rank
from cards.engine import evaluate
from cards.loader import KnowledgeBase, load_file
from cards.model import RenderedCard
from cards.schema import RuleSpec
from terminology.model import GradedEvent, LabResult, MedicationOrder
from tests.cards.builders import days_ago, event, facts, graded, lab, order, request
from tests.cards.helpers import action_kinds, only, run

ALECTINIB = order("alectinib", 600, 2, ident="old", draft=False, status="active", start=days_ago(90))
PIMASERTIB = order("pimasertib", 60, 2, ident="pim", draft=False, status="on-hold", start=days_ago(40))


def _labs(alt: float, bili: float, *, when: float = 1) -> tuple[LabResult, ...]:
    return (
        lab("alt", alt, 40, days_ago(when), ident=f"alt-{when}"),
        lab("ast", 30, 40, days_ago(when), ident=f"ast-{when}"),
        lab("bilirubin", bili, 1.2, days_ago(when), ident=f"bili-{when}"),
        lab("ck", 80, 200, days_ago(when), ident=f"ck-{when}"),
    )


# ---------------------------------------------------------------- the decision order


def test_the_decision_order_is_one_total_order_read_by_the_schema() -> None:
    assert get_args(RuleSpec.model_fields["decision"].annotation) == DECISIONS
    ranks = [rank(d) for d in DECISIONS]
    assert ranks == sorted(ranks, reverse=True) and len(set(ranks)) == len(ranks)
    assert all(rank(state) < min(ranks) for state in CARD_STATES)
    # More protective decisions never do less to the order (stop > hold > reduce > none).
    managed = [d for d in DECISIONS if category(d) == "management" and d != "switch-agent"]
    actions = [ACTION_RANK[info(d).action] for d in managed]
    assert actions == sorted(actions, reverse=True)
    assert phrase("discontinue") == "discontinue permanently" and phrase("check") == "check before deciding"
    assert [d for d in DECISIONS if info(d).permanent] == ["contraindicated", "discontinue"]
    assert [d for d in DECISIONS if info(d).resumes] == [
        "resume-reduced",
        "decide-per-protocol",
        "desensitize",
        "resume-same",
    ]


# ---------------------------------------------------------------- decisions under uncertainty


def test_unknown_cause_of_bilirubin_withholds_now_and_offers_discontinuation() -> None:
    patient = facts(labs=_labs(240, 3.0), medications=(ALECTINIB,))  # ALT 6 x, bilirubin 2.5 x ULN
    card = only(run(request("order-sign", patient, order("alectinib"))), "alectinib")
    assert card.decision == "withhold"
    assert card.rule_ids[:2] == (
        "alectinib.hepatic.transaminase-over-5x",
        "alectinib.hepatic.transaminase-with-bilirubin",
    )
    assert "withhold now; discontinue permanently if no cholestasis, no hemolysis" in card.card.summary
    interim, branch = card.card.suggestions or ()
    assert interim.isRecommended and action_kinds(card)[0] == ("delete", "ref")
    assert not branch.isRecommended and branch.label.startswith("If no cholestasis, no hemolysis")
    assert card.card.selectionBehavior == "at-most-one"
    assert "Deciding check" in (card.card.detail or "")


def test_recording_the_cause_never_removes_the_alt_withhold() -> None:
    labs = _labs(240, 3.0)
    for name in ("cholestasis", "hemolysis"):
        explained = event("Blood bilirubin increased", 2, days_ago(1), qualifiers=((name, True),))
        patient = facts(events=(explained,), labs=labs, medications=(ALECTINIB,))
        card = only(run(request("patient-view", patient)), "alectinib")
        assert (card.decision, card.rule_ids) == ("withhold", ("alectinib.hepatic.transaminase-over-5x",))
        assert action_kinds(card) == [("update", "MedicationRequest")]


def test_both_causes_excluded_discontinues() -> None:
    excluded = event(
        "Blood bilirubin increased", 2, days_ago(1), qualifiers=(("cholestasis", False), ("hemolysis", False))
    )
    patient = facts(events=(excluded,), labs=_labs(240, 3.0), medications=(ALECTINIB,))
    card = only(run(request("patient-view", patient)), "alectinib")
    assert card.decision == "discontinue" and not (card.card.detail or "").count("Deciding check")


def test_a_pending_rule_never_hides_a_rule_that_fires_on_known_data() -> None:
    brady = event("Sinus bradycardia", 4, days_ago(1))
    patient = facts(events=(brady,), labs=_labs(30, 0.5), medications=(ALECTINIB,))
    card = only(run(request("patient-view", patient)), "alectinib")
    assert card.decision == "withhold"  # fired on known data, not a bare "check"
    assert card.rule_ids[0] == "alectinib.bradycardia.life-threatening-withhold"
    labels = [s.label for s in card.card.suggestions or ()]
    assert labels == ["Withhold Alectinib", "If no contributing drug stopped: discontinue permanently"]


def test_no_shared_action_keeps_check_but_offers_the_branch() -> None:
    patient = facts(labs=_labs(150, 3.0), medications=(ALECTINIB,))  # ALT 3.75 x: only the discontinue row
    card = only(run(request("patient-view", patient)), "alectinib")
    assert card.decision == "check"
    (branch,) = card.card.suggestions or ()
    assert not branch.isRecommended and branch.label.startswith("If no cholestasis, no hemolysis")


# ---------------------------------------------------------------- episodes and recovery


def test_an_open_episode_answers_a_restart_with_the_hold() -> None:
    rash = (
        event("Rash acneiform", 3, days_ago(9), ident="a"),
        event("Rash acneiform", 2, days_ago(2), ident="b"),
    )
    patient = facts(events=rash, medications=(PIMASERTIB,))
    card = only(run(request("order-sign", patient, order("pimasertib", 60, 2))), "pimasertib", "withhold")
    assert card.rule_ids[0] == "pimasertib.rash.grade-3"
    assert "Acneiform rash grade 3 on " in card.card.summary and "not yet grade <= 1" in card.card.summary
    assert action_kinds(card)[0] == ("delete", "ref")


def test_recovery_on_a_later_value_ends_the_episode() -> None:
    rash = (
        event("Rash acneiform", 3, days_ago(9), ident="a"),
        event("Rash acneiform", 1, days_ago(2), ident="b"),
    )
    patient = facts(events=rash, medications=(PIMASERTIB,))
    cards = run(request("order-sign", patient, order("pimasertib", 60, 2)))
    assert [c.decision for c in cards if c.drug == "pimasertib"] == ["supportive-care"]


def test_alectinib_rechallenge_waits_for_complete_resolution_then_desensitization() -> None:
    def rash(*grades: int) -> tuple:
        return tuple(
            event("Rash maculo-papular", g, days_ago(30 - 10 * i), ident=str(i), suspect_drugs=("alectinib",))
            for i, g in enumerate(grades)
        )

    stopped = replace(ALECTINIB, status="stopped")
    draft = order("alectinib", 600, 2)
    held = only(
        run(request("order-sign", facts(events=rash(3, 1), medications=(stopped,)), draft)), "alectinib"
    )
    assert (held.decision, held.rule_ids[0]) == ("withhold", "alectinib.rash.ongoing")
    assert "not yet complete resolution" in held.card.summary
    resolved = only(
        run(request("order-sign", facts(events=rash(3, 1, 0), medications=(stopped,)), draft)), "alectinib"
    )
    assert resolved.decision == "desensitize"


def test_a_further_occurrence_counts_only_after_recovery() -> None:
    def ck(*multiples: float) -> tuple[LabResult, ...]:
        days = (15, 8, 1)
        return tuple(
            lab("ck", m * 100, 100, days_ago(d), ident=f"ck{d}") for m, d in zip(multiples, days, strict=True)
        )

    draft = order("alectinib", 600, 2)
    again = facts(labs=(*ck(6, 2, 6), *_labs(30, 0.5)[:3]), medications=(ALECTINIB,))
    dip = facts(labs=(*ck(6, 4, 6), *_labs(30, 0.5)[:3]), medications=(ALECTINIB,))
    assert (
        only(run(request("order-sign", again, draft)), "alectinib").rule_ids[0]
        == "alectinib.cpk.over-10x-or-recurrent"
    )
    assert only(run(request("order-sign", dip, draft)), "alectinib").rule_ids[0] == "alectinib.cpk.over-5x"


# ---------------------------------------------------------------- the floor (a general mechanism)

_EXAMPLE = """
drug = "pimasertib"
title = "Examplinib"
version = "0.1.0"
[[history]]
version = "0.1.0"
date = "2026-12-01"
change = "Test file."
[identity]
names = ["pimasertib"]
source = "s"
[references.s]
label = "Source"
citation = "Source."
url = "https://example.org"
[[rules]]
id = "pimasertib.eye.grade-2"
title = "Eye grade 2"
event = "Eye toxicity"
decision = "withhold"
source = "s"
when = { event = ["Blurred vision"], grade = [2, 2] }
[[rules]]
id = "pimasertib.eye.grade-3"
title = "Eye grade 3 (not confirmed)"
event = "Eye toxicity"
decision = "discontinue"
verified = false
source = "s"
when = { event = ["Blurred vision"], grade = [3, 5] }
"""


def test_an_unconfirmed_rule_never_takes_away_a_less_severe_states_action(tmp_path: Path) -> None:
    path = tmp_path / "examplinib.toml"
    path.write_text(_EXAMPLE, encoding="utf-8")
    item = load_file(path)
    base = KnowledgeBase(version="t", drugs={"pimasertib": item})
    on_record = order("pimasertib", 60, 2, ident="pim", draft=False, status="active", start=days_ago(40))
    patient = facts(events=(event("Blurred vision", 4, days_ago(1)),), medications=(on_record,))
    (card,) = evaluate(request("patient-view", patient), base).cards
    assert card.decision == "discontinue" and card.rule_ids[0] == "pimasertib.eye.grade-3"
    # Two steps down (grade 4 -> 3 -> 2) the confirmed withhold applies: it is kept here.
    (hold,) = card.card.suggestions or ()
    assert hold.isRecommended and (hold.actions or ())[0].resource["status"] == "on-hold"  # type: ignore[index]
    assert "`pimasertib.eye.grade-2`" in (card.card.detail or "")


def test_a_permanent_discontinuation_is_not_lifted_by_a_later_improvement() -> None:
    eyes = (
        event("Blurred vision", 4, days_ago(12), ident="a"),
        event("Blurred vision", 1, days_ago(2), ident="b"),
    )
    on_record = order(
        "avutometinib-defactinib", 200, 2, ident="avd", draft=False, status="active", start=days_ago(50)
    )
    labs = tuple(
        lab(a, v, u, days_ago(2), ident=a)
        for a, v, u in (("alt", 20, 40), ("ast", 20, 40), ("bilirubin", 0.5, 1.2), ("ck", 80, 200))
    )
    cards = run(request("patient-view", facts(events=eyes, labs=labs, medications=(on_record,))))
    card = only(cards, "avutometinib-defactinib", "discontinue")
    assert card.rule_ids[0] == "avutometinib-defactinib.ocular.grade-4"
    # The active order is stopped; the ocular rule's ophthalmology referral is offered beside it.
    assert action_kinds(card) == [("update", "MedicationRequest"), ("create", "ServiceRequest")]


def test_an_earlier_unqualified_value_keeps_its_check_after_the_grade_improves() -> None:
    alt = (lab("alt", 300, 40, days_ago(10), ident="alt-3"), lab("alt", 150, 40, days_ago(2), ident="alt-2"))
    others = tuple(
        lab(a, v, u, days_ago(2), ident=a)
        for a, v, u in (("ast", 20, 40), ("bilirubin", 0.5, 1.2), ("ck", 80, 200))
    )
    events = (
        event("Alanine aminotransferase increased", 3, days_ago(10), ident="3"),
        event("Alanine aminotransferase increased", 2, days_ago(2), ident="2"),
    )
    on_record = order(
        "avutometinib-defactinib", 200, 2, ident="avd", draft=False, status="active", start=days_ago(50)
    )
    card = only(
        run(request("patient-view", facts(events=events, labs=(*alt, *others), medications=(on_record,)))),
        "avutometinib-defactinib",
    )
    assert card.decision == "check" and "withhold if symptomatic" in card.card.summary
    (branch,) = card.card.suggestions or ()
    assert branch.label == "If symptomatic: withhold" and not branch.isRecommended


def test_after_recovery_a_restart_gets_the_rules_own_resumption() -> None:
    eyes = (
        event("Blurred vision", 3, days_ago(12), ident="a"),
        event("Blurred vision", 1, days_ago(2), ident="b"),
    )
    held = order(
        "avutometinib-defactinib", 200, 2, ident="avd", draft=False, status="on-hold", start=days_ago(50)
    )
    patient = facts(events=eyes, medications=(held,))
    card = only(
        run(request("order-sign", patient, order("avutometinib-defactinib", 200, 2))),
        "avutometinib-defactinib",
        "resume-reduced",
    )
    assert card.rule_ids[0] == "avutometinib-defactinib.ocular.grade-3"
    assert "recovered: resume at a reduced dose or discontinue permanently" in card.card.summary
    # On the chart (patient-view) a recovered episode says nothing more.
    assert not [
        c
        for c in run(
            request("patient-view", facts(events=eyes, medications=(replace(held, status="active"),)))
        )
        if c.decision == "resume-reduced"
    ]


def test_a_second_life_threatening_bradycardia_counts_only_after_recovery() -> None:
    def brady(*grades: int) -> tuple:
        return tuple(
            event("Sinus bradycardia", g, days_ago(20 - 6 * i), ident=str(i)) for i, g in enumerate(grades)
        )

    stopped = (("contributing-drug-stopped", True),)
    recurrent = facts(
        events=(*brady(4, 1)[:2], replace(brady(4, 1, 4)[2], qualifiers=stopped)), medications=(ALECTINIB,)
    )
    same = facts(
        events=(*brady(4, 3)[:2], replace(brady(4, 3, 4)[2], qualifiers=stopped)), medications=(ALECTINIB,)
    )
    assert only(run(request("patient-view", recurrent)), "alectinib").decision == "discontinue"
    assert only(run(request("patient-view", same)), "alectinib").decision == "withhold"


def test_the_resumption_is_asked_once_not_after_the_drug_was_already_restarted() -> None:
    eyes = (
        event("Blurred vision", 3, days_ago(20), ident="a"),
        event("Blurred vision", 1, days_ago(12), ident="b"),
    )
    restarted = order(
        "avutometinib-defactinib", 150, 2, ident="again", draft=False, status="active", start=days_ago(10)
    )
    patient = facts(events=eyes, medications=(restarted,))
    cards = run(request("order-sign", patient, order("avutometinib-defactinib", 150, 2)))
    assert not [c for c in cards if c.decision == "resume-reduced"]


# ---------------------------------------------------------------- brigatinib and lorlatinib on episodes


def _brigatinib(amount: float = 180, status: str = "active") -> MedicationOrder:
    return order("brigatinib", amount, 1, ident="brig", draft=False, status=status, start=days_ago(60))


def _hypertension(*grades: int, optimal: bool | None = None) -> tuple[GradedEvent, ...]:
    marks = () if optimal is None else (("on-optimal-antihypertensive-therapy", optimal),)
    return tuple(
        event("Hypertension", g, days_ago(20 - 8 * i), ident=str(i), qualifiers=marks)
        for i, g in enumerate(grades)
    )


def test_brigatinib_hypertension_grade_3_waits_on_optimal_therapy_with_an_interim() -> None:
    unknown = only(
        run(request("patient-view", facts(events=_hypertension(3), medications=(_brigatinib(),)))),
        "brigatinib",
    )
    assert (unknown.decision, unknown.card.indicator) == ("supportive-care", "warning")
    assert "withhold if on optimal antihypertensive therapy" in unknown.card.summary
    (alternative,) = unknown.card.suggestions or ()
    assert not alternative.isRecommended and action_kinds(unknown) == [("update", "MedicationRequest")]
    optimal = only(
        run(
            request(
                "patient-view", facts(events=_hypertension(3, optimal=True), medications=(_brigatinib(),))
            )
        ),
        "brigatinib",
    )
    assert (optimal.decision, optimal.card.indicator) == ("withhold", "critical")
    assert optimal.rule_ids[0] == "brigatinib.hypertension.grade-3"
    assert (optimal.card.suggestions or ())[0].isRecommended
    not_optimal = only(
        run(
            request(
                "patient-view", facts(events=_hypertension(3, optimal=False), medications=(_brigatinib(),))
            )
        ),
        "brigatinib",
    )
    assert not_optimal.decision == "supportive-care" and not not_optimal.card.suggestions
    # Grade 4 withholds at once, whatever the therapy.
    severe = only(
        run(request("patient-view", facts(events=_hypertension(4), medications=(_brigatinib(),)))),
        "brigatinib",
    )
    assert (
        severe.decision == "withhold" and severe.rule_ids[0] == "brigatinib.hypertension.grade-4-or-recurrent"
    )


def test_brigatinib_hypertension_hold_lasts_until_grade_1() -> None:
    draft = order("brigatinib", 180, 1)
    held = only(
        run(
            request(
                "order-sign",
                facts(events=_hypertension(4, 2), medications=(_brigatinib(status="on-hold"),)),
                draft,
            )
        ),
        "brigatinib",
    )
    assert held.decision == "withhold" and "not yet" in held.card.summary
    resumed = run(
        request(
            "order-sign",
            facts(events=_hypertension(4, 1), medications=(_brigatinib(status="on-hold"),)),
            draft,
        )
    )
    assert "withhold" not in [c.decision for c in resumed if c.drug == "brigatinib"]


def test_brigatinib_recurrent_hypertension_grade_3_needs_recovery_between() -> None:
    recurrent = only(
        run(request("patient-view", facts(events=_hypertension(3, 1, 3), medications=(_brigatinib(),)))),
        "brigatinib",
    )
    assert recurrent.decision == "withhold"
    assert recurrent.rule_ids[0] == "brigatinib.hypertension.grade-4-or-recurrent"
    same = only(
        run(request("patient-view", facts(events=_hypertension(3, 2, 3), medications=(_brigatinib(),)))),
        "brigatinib",
    )
    assert "brigatinib.hypertension.grade-4-or-recurrent" not in same.rule_ids


def test_a_reduction_at_the_lowest_level_reads_as_a_permanent_stop() -> None:
    patient = facts(events=_hypertension(3, optimal=True), medications=(_brigatinib(60),))
    card = only(run(request("patient-view", patient)), "brigatinib")
    assert card.decision == "discontinue"
    assert card.card.summary.endswith(
        "discontinue permanently (already at the lowest dose level, 60 mg once daily)"
    )
    lead = (card.card.detail or "").split("\n")[0]
    assert "**Discontinue permanently** (already at the lowest dose level, 60 mg once daily)" in lead
    assert " until " not in lead.split("**")[-1] and "resume" not in lead.split("**")[-1]
    assert "Resume at the next lower dose" not in (card.card.detail or "")


def test_an_unconfirmed_reduction_never_shows_a_dose_number() -> None:
    blurred = event("Blurred vision", 2, days_ago(1))
    card = only(
        run(request("patient-view", facts(events=(blurred,), medications=(_brigatinib(),)))), "brigatinib"
    )
    assert card.rule_ids[0] == "brigatinib.visual.grade-2-3" and card.decision == "withhold"
    assert "a reduced dose per the prescribing information" in card.card.summary
    assert "120 mg" not in card.card.summary and "120 mg" not in (card.card.detail or "")
    assert not card.card.suggestions


def test_lorlatinib_lipids_grade_4_recurrence_is_separated_by_recovery() -> None:
    on_record = order("lorlatinib", 100, 1, ident="lor", draft=False, status="active", start=days_ago(60))

    def lipids(*grades: int) -> list[str]:
        events = tuple(
            event("Hypertriglyceridemia", g, days_ago(20 - 8 * i), ident=str(i)) for i, g in enumerate(grades)
        )
        card = only(
            run(request("patient-view", facts(events=events, medications=(on_record,)))), "lorlatinib"
        )
        return [card.decision, card.rule_ids[0]]

    assert lipids(4) == ["withhold", "lorlatinib.lipids.grade-4"]
    assert lipids(4, 2, 4) == ["withhold", "lorlatinib.lipids.grade-4-recurrent"]
    assert lipids(4, 3, 4) == ["withhold", "lorlatinib.lipids.grade-4"]  # no recovery to grade <= 2 between
    assert lipids(5) == ["withhold", "lorlatinib.lipids.grade-4"]


def test_reduce_or_discontinue_at_the_lowest_level_leaves_only_discontinuation() -> None:
    at_lowest = only(
        run(request("patient-view", facts(events=_hypertension(4), medications=(_brigatinib(60),)))),
        "brigatinib",
    )
    assert (
        at_lowest.decision == "discontinue" and "already at the lowest dose level" in at_lowest.card.summary
    )
    above = only(
        run(request("patient-view", facts(events=_hypertension(4), medications=(_brigatinib(120),)))),
        "brigatinib",
    )
    assert above.decision == "withhold" and "90 mg" not in above.card.summary


def test_lorlatinib_cns_hold_lasts_until_grade_1_then_resumes_reduced_without_a_number() -> None:
    on_hold = order("lorlatinib", 100, 1, ident="lor", draft=False, status="on-hold", start=days_ago(60))
    draft = order("lorlatinib", 100, 1)

    def restart(*grades: int) -> RenderedCard:
        events = tuple(
            event("Confusion", g, days_ago(20 - 8 * i), ident=str(i)) for i, g in enumerate(grades)
        )
        return only(
            run(request("order-sign", facts(events=events, medications=(on_hold,)), draft)), "lorlatinib"
        )

    held = restart(3, 2)
    assert held.decision == "withhold" and held.rule_ids[0] == "lorlatinib.cns.grade-2-3"
    resumed = restart(3, 1)
    assert resumed.decision == "resume-reduced" and "recovered" in resumed.card.summary
    assert "per the prescribing information" in resumed.card.summary and "75 mg" not in resumed.card.summary
    assert not resumed.card.suggestions  # an unconfirmed row changes no order


def test_brigatinib_hypertension_grade_3_from_one_blood_pressure_value_is_not_a_withhold() -> None:
    reading = lab("systolic-bp", 172, 120, days_ago(1), ident="bp")
    patient = facts(
        events=(graded("Hypertension", 3, reading),), labs=(reading,), medications=(_brigatinib(),)
    )
    card = only(run(request("patient-view", patient)), "brigatinib")
    assert card.decision == "supportive-care" and card.card.indicator == "warning"
    assert [s.isRecommended for s in card.card.suggestions or ()] == [False]  # the withhold is a choice
