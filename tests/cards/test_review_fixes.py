"""Clinician review: recurrence after resolution, undecided parts keep evidence, held orders, new courses."""

from __future__ import annotations

from cards.conditions import compile_condition
from cards.context import Context, Subject
from cards.model import RenderedCard
from terminology.model import LabResult
from tests.cards.builders import days_ago, event, facts, lab, order, request
from tests.cards.helpers import only, run

RASH = "Rash maculo-papular"


def _ctx(hook: str = "order-select", **kw: object) -> Context:
    return Context(
        request=request(hook, facts(**kw)),  # type: ignore[arg-type]
        subject=Subject(drug="alectinib", order=None, therapy_start=None, new_start=False),
        classes={},
    )


def test_all_keeps_the_evidence_and_the_abnormal_flag_of_an_undecided_part() -> None:
    resolved_then_back = (event(RASH, 3, days_ago(40), ident="a"), event(RASH, 0, days_ago(20), ident="b"))
    ctx = _ctx(events=(*resolved_then_back, event(RASH, 2, days_ago(3), ident="c")))
    part = {"event": [RASH], "grade": [3, 5], "which": "resolved", "resolved_to": 0}
    alone = compile_condition(part)(ctx)
    assert alone.value is None and alone.trigger and "recurred" in alone.checks[0]
    combined = compile_condition({"all": [part, {"not": {"history": ["sjs"]}}]})(ctx)
    assert combined.value is None
    assert combined.trigger, "an undecided part that saw a recurrence must still make the rule ask"
    assert {r.observation for r in combined.rows} >= {"Observation/rash-a", "Observation/rash-c"}


def test_resolved_means_resolved_now() -> None:
    ctx = _ctx(events=(event(RASH, 3, days_ago(40), ident="a"), event(RASH, 0, days_ago(20), ident="b")))
    part = {"event": [RASH], "grade": [3, 5], "which": "resolved", "resolved_to": 0}
    assert compile_condition(part)(ctx).value is True


def _rash_restart(*grades: tuple[int, float]) -> list[str]:
    events = tuple(event(RASH, g, days_ago(d), ident=str(i)) for i, (g, d) in enumerate(grades))
    stopped = order(
        "alectinib", ident="mr-old", draft=False, status="stopped", start=days_ago(90), end=days_ago(45)
    )
    cards = run(request("order-select", facts(events=events, medications=(stopped,)), order("alectinib")))
    return [c.decision for c in cards if c.drug == "alectinib" and c.decision != "monitor"]


def test_a_rash_back_after_complete_resolution_holds_again_whatever_its_grade() -> None:
    assert _rash_restart((3, 40), (0, 20)) == ["desensitize"]
    for grade in (1, 2):
        assert _rash_restart((3, 40), (0, 20), (grade, 3)) == ["withhold"], grade
    assert _rash_restart((3, 40), (0, 20), (3, 3)) == ["withhold"]


def test_a_held_order_is_a_subject_on_patient_view_without_monitoring_noise() -> None:
    held = order("alectinib", ident="mr-held", draft=False, status="on-hold", start=days_ago(120))
    # Nothing on record but the held order: no overdue-test card while the drug is held.
    assert run(request("patient-view", facts(medications=(held,))), monitoring=True) == []
    # A current grade 2 pneumonitis on the held order: withhold (it stays held: no action), and with no
    # other cause recorded, discontinue as the deciding branch, which stops the held order.
    pneumonitis = event("Pneumonitis", 2, days_ago(2), ident="p", qualifiers=(("other-cause-found", False),))
    cards = run(request("patient-view", facts(events=(pneumonitis,), medications=(held,))))
    card = only(cards, "alectinib")
    assert card.decision == "discontinue"
    actions = [a for s in card.card.suggestions or () for a in s.actions or ()]
    assert [(a.type, a.resource and a.resource.get("status")) for a in actions] == [("update", "stopped")]
    ongoing = event("Pneumonitis", 2, days_ago(2), ident="p", qualifiers=(("other-cause-found", True),))
    cards = run(request("patient-view", facts(events=(ongoing,), medications=(held,))))
    card = only(cards, "alectinib")
    assert card.decision == "withhold" and not card.card.suggestions  # already held: nothing to change


def _liver_now() -> tuple[LabResult, ...]:
    return (
        lab("alt", 30, 40, days_ago(2), ident="alt"),
        lab("ast", 30, 40, days_ago(2), ident="ast"),
        lab("bilirubin", 0.5, 1.2, days_ago(2), ident="bili"),
    )


def test_stale_data_makes_a_card_only_when_a_decision_depends_on_it_now() -> None:
    active = order("alectinib", ident="mr-1", draft=False, start=days_ago(120))
    old_ck = lab("ck", 150, 200, days_ago(80), ident="ck-old")
    # patient-view, month 4, CK last measured long ago and no rule near firing: no data card.
    cards = run(request("patient-view", facts(labs=(*_liver_now(), old_ck), medications=(active,))))
    assert [c.decision for c in cards] == []
    # An order hook checks before signing: the stale CK is named.
    cards = run(
        request(
            "order-select", facts(labs=(*_liver_now(), old_ck), medications=(active,)), order("alectinib")
        )
    )
    assert [c.decision for c in cards] == ["data-missing"] and "ck" in cards[0].card.detail.lower()
    # An open CPK episode (6 x ULN, then 4 x ULN) whose recovery needs a value: named on patient-view.
    cpk = (lab("ck", 1200, 200, days_ago(40), ident="ck-1"), lab("ck", 800, 200, days_ago(35), ident="ck-2"))
    cards = run(request("patient-view", facts(labs=(*_liver_now(), *cpk), medications=(active,))))
    assert cards and all(c.decision != "data-missing" for c in cards)


def test_alternatives_only_card_lets_the_clinician_pick_one() -> None:
    first = order("pimasertib", 60, 2)
    card = only(run(request("order-sign", facts(), first)), "pimasertib", "prophylaxis")
    labels = [s.label for s in card.card.suggestions or ()]
    assert len(labels) == 2 and "doxycycline" in labels[0] and "minocycline" in labels[1]
    assert card.card.selectionBehavior == "at-most-one"
    # A card mixing alternatives with combinable orders keeps "any" (other cards are unchanged).
    held = order("pimasertib", 60, 2, ident="pim", draft=False, start=days_ago(30))
    rash = event("Rash acneiform", 2, days_ago(1))
    card = only(run(request("patient-view", facts(events=(rash,), medications=(held,)))), "pimasertib")
    assert card.card.selectionBehavior == "any"


def _restart_cards(stopped_days_ago: float) -> list[RenderedCard]:
    ended = order(
        "alectinib",
        ident="mr-old",
        draft=False,
        status="stopped",
        start=days_ago(stopped_days_ago + 100),
        end=days_ago(stopped_days_ago),
    )
    record = facts(medications=(ended,))  # no labs since the old course
    return run(request("order-select", record, order("alectinib", start=days_ago(0))), monitoring=True)


def test_a_restart_after_a_long_stop_is_a_new_course() -> None:
    # 100 days off (local policy: 28 days): a new course; its baseline tests are due, and the old
    # course's missed tests are not listed.
    schedule = only(_restart_cards(100), "alectinib", "monitor")
    assert "overdue" not in schedule.card.summary and "missed" not in (schedule.card.detail or "")
    assert "Before the first dose" in (schedule.card.detail or "") or "day 0" in (schedule.card.detail or "")
    # 10 days off: one course with an interruption, whose missed tests are still owed.
    schedule = only(_restart_cards(10), "alectinib", "monitor")
    assert "overdue" in schedule.card.summary


def test_brigatinib_re_lead_in_only_after_14_days_off_and_above_90_mg() -> None:
    def restart(days: float, amount: float) -> list[str]:
        ended = order(
            "brigatinib",
            180,
            1,
            ident="mr-old",
            draft=False,
            status="stopped",
            start=days_ago(120),
            end=days_ago(days),
        )
        draft = order("brigatinib", amount, 1, start=days_ago(0))
        cards = run(request("order-sign", facts(medications=(ended,)), draft))
        return [r for c in cards for r in c.rule_ids if r == "brigatinib.restart.lead-in"]

    assert restart(14, 180) == ["brigatinib.restart.lead-in"]  # >= 14 days: exactly at the threshold
    assert restart(13, 180) == []
    assert restart(30, 90) == []  # the lead-in dose itself
    assert restart(30, 120) == ["brigatinib.restart.lead-in"]
