"""Clinician review findings: each pinned as general behaviour (monotonicity, episodes, card text)."""

from __future__ import annotations

from typing import Any

from cards.decisions import category, rank
from cards.logic import multiple_text
from cards.model import RenderedCard
from cards.qualifier_labels import LABELLED, branch_words, qualifier_label
from terminology.recorded import QUALIFIERS
from tests.cards.builders import days_ago, event, facts, lab, order, request
from tests.cards.helpers import knowledge, only, run
from tests.cards.knowledge_walk import qualifiers
from tests.cards.test_monotonicity import answer, cards_for


def _hemolysis_state(alt: list[float]) -> dict[str, Any]:
    return {
        "drug": "alectinib",
        "grades": {"Hemolysis": [1]},
        "labs": {"ast": [5.5, 0.5, 0.5], "alt": alt},
        "recorded": dict.fromkeys(qualifiers("alectinib")),
        "hook": "order-sign",
    }


def test_an_unconfirmed_hold_never_drops_the_confirmed_resumption_after_an_episode() -> None:
    base = _hemolysis_state([0.5, 0.5])
    worse = _hemolysis_state([0.5, 3.5])  # ALT now 3.5 x ULN: the AST episode stays recovered
    assert answer(base)[1] >= 1  # the restart is reduced (confirmed hepatic resumption)
    assert answer(worse)[1] >= answer(base)[1]
    card = next(c for c in cards_for(worse) if c.decision == "withhold")
    recommended = [s for s in card.card.suggestions or () if s.isRecommended]
    assert any(a.type == "update" for s in recommended for a in s.actions or ())


# ---------------------------------------------------------------- B, C: unconfirmed grade 4 episodes


def _rash(grades: list[int], drug: str = "pimasertib") -> list[RenderedCard]:
    events = tuple(
        event("Rash acneiform", g, days_ago(d), ident=str(i))
        for i, (g, d) in enumerate(zip(grades, (11, 3), strict=True))
    )
    held = order(drug, 60, 2, ident="on", draft=False, status="on-hold", start=days_ago(40))
    return run(request("order-sign", facts(events=events, medications=(held,)), order(drug, 60, 2)))


def _changes_order(card: RenderedCard) -> bool:
    return any(
        a.type == "delete"
        or (a.type == "update" and (a.resource or {}).get("resourceType") == "MedicationRequest")
        for s in card.card.suggestions or ()
        for a in s.actions or ()
    )


def test_an_unconfirmed_grade_4_episode_after_recovery_never_reads_less_cautious_than_grade_3() -> None:
    after_4 = only(_rash([4, 1]), "pimasertib", "decide-per-protocol")
    assert "grade 4 on" in after_4.card.summary and "recovered" in after_4.card.summary
    assert after_4.card.indicator == "warning" and not _changes_order(after_4)  # unconfirmed: no order change
    after_3 = [c for c in _rash([3, 1]) if category(c.decision) == "management"]
    assert all(rank(c.decision) < rank(after_4.decision) for c in after_3)


def test_the_headline_names_the_current_worse_grade_and_keeps_the_confirmed_action() -> None:
    card = only(_rash([3, 4]), "pimasertib", "withhold")
    assert "grade 4" in card.card.summary and "grade 3 on" not in card.card.summary
    assert card.rule_ids[0] == "pimasertib.rash.grade-4"
    assert any(a.type == "delete" for s in card.card.suggestions or () for a in s.actions or ())


# ---------------------------------------------------------------- D: summaries that fit


def test_a_summary_too_long_is_worded_briefly_never_cut_in_the_decision_or_condition() -> None:
    state = {"Rash maculo-papular": [3, 1]}
    events = tuple(
        event(t, g, days_ago(d), ident=str(i))
        for t, gs in state.items()
        for i, (g, d) in enumerate(zip(gs, (11, 3), strict=True))
    )
    drug = "avutometinib-defactinib"
    held = order(drug, 3.2, 2, ident="on", draft=False, status="on-hold", start=days_ago(40))
    cards = run(request("order-sign", facts(events=events, medications=(held,)), order(drug, 3.2, 2)))
    for card in cards:
        summary = card.card.summary
        assert len(summary) <= 139
        assert "..." not in summary, summary
        assert "recovered" in summary and "resume at a reduced dose" in summary, summary
        if "if " in summary:
            condition = summary.rsplit("if ", 1)[1]
            assert condition in (
                "SCAR suspected",
                "a SCAR (SJS/TEN/DRESS) is suspected",
                "no SCAR suspected",
            ) or ("SCAR" not in condition), summary


# ---------------------------------------------------------------- E: qualifier labels


def test_every_qualifier_terminology_reads_has_a_readable_label() -> None:
    assert qualifier_label("suspected-scar", True) == "a SCAR (SJS/TEN/DRESS) is suspected"
    assert QUALIFIERS <= LABELLED  # every qualifier a record can carry is worded by the table
    assert qualifier_label("other-cause-found", False) == "no other cause found"
    assert branch_words({"cholestasis": False, "hemolysis": False}) == "no cholestasis, no hemolysis"


# ---------------------------------------------------------------- F: displayed multiples


def test_displayed_multiples_never_round_onto_a_threshold() -> None:
    assert multiple_text(2001, 200) == "> 10.0 x ULN"
    assert multiple_text(400, 40) == "10.0 x ULN"
    assert multiple_text(1.2, 0.8, "baseline") == "1.5 x baseline"  # exact in decimal
    assert multiple_text(119.9, 40) == "> 2.9 x ULN"
    assert multiple_text(1, None) == ""


def test_an_evidence_row_shows_the_cut_multiple() -> None:
    ck = lab("ck", 2001.0, 200.0, days_ago(1), ident="ck-1")
    req = request(
        "patient-view", facts(labs=(ck,), medications=(order("alectinib", draft=False, status="active"),))
    )
    card = only(run(req), "alectinib")
    assert "> 10.0 x ULN" in card.card.detail and "(10.0 x ULN)" not in card.card.detail


# ---------------------------------------------------------------- H: the full resumption phrase


def test_a_resumption_on_a_card_keeps_the_rule_s_full_phrase() -> None:
    events = (
        event("Blurred vision", 3, days_ago(13), ident="1"),
        event("Blurred vision", 1, days_ago(4), ident="2"),
    )
    drug = "avutometinib-defactinib"
    held = order(drug, 3.2, 2, ident="on", draft=False, status="on-hold", start=days_ago(40))
    card = only(
        run(request("order-sign", facts(events=events, medications=(held,)), order(drug, 3.2, 2))), drug
    )
    first = card.card.detail.splitlines()[0]
    assert "**Resume at a reduced dose or discontinue permanently**" in first


# ---------------------------------------------------------------- I: analyte names


def test_data_not_checked_is_named_by_the_analyte_display_name() -> None:
    alt = lab("alt", 20.0, 40.0, days_ago(1), ident="alt-1")
    req = request("order-sign", facts(labs=(alt,)), order("alectinib"))
    details = "\n".join(c.card.detail for c in run(req) if c.drug == "alectinib")
    assert "Creatine kinase" in details and ": CK" not in details and "ck," not in details


def test_every_unconfirmed_hold_with_a_recovery_says_how_to_resume() -> None:
    """Without a `resume`, a recovered unconfirmed episode would fall silent on a restart and read less
    cautious than the confirmed lower-grade rule (B): each one names its resumption."""
    for drug in knowledge().drugs.values():
        for rule in drug.rules:
            spec = rule.spec
            if not spec.verified and spec.recovery is not None and spec.decision == "withhold":
                assert spec.resume is not None, spec.id
