"""Lab conditions over a series: worst value, episodes and values derived once per evaluation."""

from __future__ import annotations

from cards.conditions import compile_condition
from cards.context import Context, Subject
from tests.cards.builders import days_ago, facts, lab, request

SERIES = (
    lab("ck", 700, 100, days_ago(9), ident="a"),  # 7 x ULN
    lab("ck", 150, 100, days_ago(7), ident="b"),
    lab("ck", 900, 100, days_ago(5), ident="c"),  # 9 x ULN: the worst
    lab("ck", 900, 100, days_ago(3), ident="d"),  # equally high, later
    lab("ck", 200, 100, days_ago(1), ident="e"),
)


def ctx_for() -> Context:
    """A patient-view context over SERIES."""
    return Context(
        request=request("patient-view", facts(labs=SERIES)),
        subject=Subject(drug="alectinib", order=None, therapy_start=None, new_start=False),
        classes={},
    )


def test_worst_is_the_first_highest_value() -> None:
    outcome = compile_condition({"lab": "ck", "of": "uln", "gt": 5, "which": "worst"})(ctx_for())
    assert outcome.value is True
    assert [row.observation for row in outcome.rows] == ["Observation/c"]


def test_episodes_list_every_value_meeting_the_threshold() -> None:
    spec = {"lab": "ck", "of": "uln", "gt": 5, "which": "worst", "episodes_ge": 2}
    outcome = compile_condition(spec)(ctx_for())
    assert outcome.value is True
    assert [row.observation for row in outcome.rows] == ["Observation/a", "Observation/c", "Observation/d"]
    assert outcome.anchor == days_ago(5)  # the last run began with "c"
    assert compile_condition({**spec, "episodes_ge": 3})(ctx_for()).value is False


def test_rules_sharing_a_context_keep_their_own_measures() -> None:
    ctx = ctx_for()
    by_uln = compile_condition({"lab": "ck", "of": "uln", "gt": 5, "which": "worst"})
    by_value = compile_condition({"lab": "ck", "of": "value", "gt": 800, "which": "worst"})
    latest = compile_condition({"lab": "ck", "of": "uln", "ge": 2})
    assert by_uln(ctx).value is True
    assert by_value(ctx).value is True
    assert latest(ctx).value is True
    assert compile_condition({"lab": "ck", "of": "value", "gt": 900, "which": "worst"})(ctx).value is False
    # Evidence rows are built once and reused by every rule showing the same value.
    again = by_uln(ctx)
    assert again.rows[0] is by_uln(ctx).rows[0]
    assert again.rows[0].multiple == "9.0 x ULN"


def test_unrecovered_uses_the_values_since_the_peak() -> None:
    spec = {"lab": "ck", "of": "uln", "gt": 5, "which": "unrecovered", "until_le": 2.5}
    assert compile_condition(spec)(ctx_for()).value is False  # "e" (2 x ULN) is recovered
    outcome = compile_condition({**spec, "until_le": 1.5})(ctx_for())
    assert outcome.value is True
    assert [row.observation for row in outcome.rows] == ["Observation/d", "Observation/e"]
    assert outcome.anchor == days_ago(5)
