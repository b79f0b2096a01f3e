"""Clinician review: recurrence after resolution, undecided parts keep evidence, held orders, new courses."""

from __future__ import annotations

from cards.conditions import compile_condition
from cards.context import Context, Subject
from tests.cards.builders import days_ago, event, facts, order, request
from tests.cards.helpers import run

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
