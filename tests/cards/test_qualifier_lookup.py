"""The qualifier condition: latest recorded value, later record for an earlier moment, memo safety."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cards.conditions import compile_condition
from cards.context import Context, Subject
from terminology.model import EventSource, GradedEvent, TermTimeline
from tests.cards.builders import days_ago, event, facts, request

TERM = "Pneumonitis"
SPEC = {"qualifier": "symptomatic", "event": [TERM]}


def ctx_for(*events: GradedEvent, **kw: Any) -> Context:
    return Context(
        request=request("patient-view", facts(events=events)),
        subject=Subject(drug="alectinib", order=None, therapy_start=None, new_start=False),
        classes={},
        **kw,
    )


def lab_like(n: int) -> GradedEvent:
    """An event with no qualifier (as lab-derived events are), n days ago."""
    return replace(event(TERM, 1, days_ago(n), ident=f"lab{n}"), source=EventSource.LAB)


def test_latest_recorded_value_answers_past_unqualified_events() -> None:
    older = event(TERM, 2, days_ago(9), ident="a", qualifiers=(("symptomatic", True),))
    newer = event(TERM, 2, days_ago(5), ident="b", qualifiers=(("symptomatic", False),))
    ctx = ctx_for(older, *(lab_like(n) for n in range(40, 10, -1)), newer, lab_like(2), lab_like(1))
    condition = compile_condition(SPEC)
    for _ in range(2):  # the second answer comes from the memo and must be the same
        outcome = condition(ctx)
        assert outcome.value is False
        assert outcome.rows[0].observation == "Observation/pneumonitis-b"
        assert outcome.rows[0].value == "recorded: not symptomatic"


def test_unrecorded_is_undecided_and_a_later_record_answers_an_earlier_moment() -> None:
    before = lab_like(8)
    later = event(TERM, 2, days_ago(3), ident="c", qualifiers=(("symptomatic", True),))
    condition = compile_condition(SPEC)
    earlier = ctx_for(before)
    undecided = condition(earlier)
    assert undecided.value is None and undecided.open == ("symptomatic",)
    whole = facts(events=(before, later)).timelines
    answered = condition(replace(earlier, memo={}, later_events=whole))
    assert answered.value is True
    assert answered.rows[0].observation == "Observation/pneumonitis-c"


def test_a_shared_memo_never_answers_for_another_timeline() -> None:
    memo: dict[Any, Any] = {}
    condition = compile_condition(SPEC)
    yes = event(TERM, 2, days_ago(4), ident="y", qualifiers=(("symptomatic", True),))
    no = event(TERM, 2, days_ago(4), ident="n", qualifiers=(("symptomatic", False),))
    for recorded, expected in ((yes, True), (no, False), (lab_like(4), None), (yes, True)):
        ctx = ctx_for(recorded, memo=memo)
        assert isinstance(ctx.request.facts.timelines[TERM], TermTimeline)
        assert condition(ctx).value is expected
