"""Stale recorded grades are re-assessed, and recovery values alone never raise a card."""

from __future__ import annotations

from dataclasses import replace

from terminology.model import LabResult
from tests.cards.builders import days_ago, event, facts, lab, order, request
from tests.cards.helpers import only, run

ON_RECORD = order("alectinib", 600, 2, ident="old", draft=False, status="active", start=days_ago(200))
AVUTOMETINIB = order(
    "avutometinib-defactinib", 3.2, 2, ident="avu", draft=False, status="active", start=days_ago(200)
)


def normal_labs(*, ast: bool = True) -> tuple[LabResult, ...]:
    labs = [
        lab("alt", 30, 40, days_ago(1), ident="alt"),
        lab("bilirubin", 0.5, 1.2, days_ago(1), ident="bili"),
        lab("ck", 50, 100, days_ago(1), ident="ck"),
    ]
    if ast:
        labs.append(lab("ast", 30, 40, days_ago(1), ident="ast"))
    return tuple(labs)


def test_normal_alt_with_missing_ast_is_no_resolved_episode() -> None:
    # ALT never rose: "<= 3 x ULN" holds, AST is missing. No "resolved" check card, only what is missing.
    patient = facts(labs=normal_labs(ast=False), medications=(ON_RECORD,))
    cards = run(request("order-select", patient, order("alectinib")))
    assert [c.decision for c in cards] == ["data-missing"]
    assert "Resolved" not in cards[0].card.summary
    assert "AST" in cards[0].card.summary


def test_raised_worst_alt_with_missing_ast_still_asks_to_check() -> None:
    labs = (
        lab("alt", 260, 40, days_ago(20), ident="alt-peak"),
        lab("alt", 30, 40, days_ago(1), ident="alt"),
        lab("bilirubin", 0.5, 1.2, days_ago(1), ident="bili"),
        lab("ck", 50, 100, days_ago(1), ident="ck"),
    )
    card = only(
        run(request("order-select", facts(labs=labs, medications=(ON_RECORD,)), order("alectinib"))),
        "alectinib",
    )
    assert card.decision == "check"
    assert card.rule_ids == ("alectinib.hepatic.resolved-resume-reduced",)
    assert "AST (Aspartate aminotransferase)" in (card.card.detail or "")


def test_recent_recorded_grade_counts_as_current() -> None:
    ocular = event("Blurred vision", 3, days_ago(10))
    patient = facts(events=(ocular,), labs=normal_labs(), medications=(AVUTOMETINIB,))
    card = only(run(request("patient-view", patient)), "avutometinib-defactinib")
    assert (card.decision, card.card.indicator) == ("withhold", "critical")


def test_old_recorded_grade_without_follow_up_is_re_assessed() -> None:
    recorded = days_ago(45)
    ocular = event("Blurred vision", 3, recorded)
    patient = facts(events=(ocular,), labs=normal_labs(), medications=(AVUTOMETINIB,))
    card = only(run(request("patient-view", patient)), "avutometinib-defactinib")
    assert card.decision == "check"
    assert card.rule_ids == ("avutometinib-defactinib.ocular.grade-3",)
    assert f"last recorded {recorded.date().isoformat()}" in card.card.summary
    assert "withhold if still current" in card.card.summary
    detail = card.card.detail or ""
    assert f"last recorded on {recorded.date().isoformat()}" in detail
    assert "re-assess the current grade" in detail
    assert not card.card.suggestions  # nothing is stopped on an out-of-date grade


def test_old_grade_followed_by_a_recent_one_uses_the_recent_one() -> None:
    events = (
        event("Blurred vision", 3, days_ago(45), ident="1"),
        event("Blurred vision", 1, days_ago(2), ident="2"),
    )
    patient = facts(events=events, labs=normal_labs(), medications=(AVUTOMETINIB,))
    card = only(run(request("patient-view", patient)), "avutometinib-defactinib")
    assert (card.decision, card.rule_ids) == ("continue", ("avutometinib-defactinib.ocular.grade-1",))


def test_default_reference_range_never_changes_an_order() -> None:
    high = lab("ck", 1100, 200, days_ago(1), ident="ck")  # 5.5 x the default ULN
    defaulted = replace(high, range_is_default=True, default_bounds=("ULN",))
    labs = (*[x for x in normal_labs() if x.analyte != "ck"], defaulted)
    card = only(
        run(request("order-select", facts(labs=labs, medications=(ON_RECORD,)), order("alectinib"))),
        "alectinib",
    )
    assert (card.decision, card.rule_ids[0]) == ("withhold", "alectinib.cpk.over-5x")
    assert not any(s.actions for s in card.card.suggestions or ())
    detail = card.card.detail or ""
    assert "default reference range" in detail and "Observation/ck: ULN 200" in detail
    # The same value against the lab's own range does offer the hold.
    labs = (*[x for x in normal_labs() if x.analyte != "ck"], high)
    card = only(
        run(request("order-select", facts(labs=labs, medications=(ON_RECORD,)), order("alectinib"))),
        "alectinib",
    )
    assert any(s.actions for s in card.card.suggestions or ())
