"""Condition compilation errors and three-valued logic."""

from __future__ import annotations

from typing import Any

import pytest

from cards.conditions import ConditionError, compile_condition
from cards.context import Context, Subject
from tests.cards.builders import NOW, days_ago, facts, lab, request


def ctx_with(**kw: Any) -> Context:
    return Context(
        request=request("patient-view", facts(**kw)),
        subject=Subject(drug="alectinib", order=None, therapy_start=None, new_start=False),
        classes={},
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"lab": "ck", "of": "uln"}, "exactly one of gt, ge, lt, le"),
        ({"lab": "ck", "of": "mean", "gt": 1}, "of: expected"),
        ({"event": ["Pneumonitis"], "which": "resolved"}, "resolved_to"),
        ({"all": []}, "non-empty list"),
        ({"colour": "red"}, "no known condition key"),
        ({"therapy": "old"}, "therapy: expected"),
        ({"lab": "ck", "gt": 5, "which": "unrecovered"}, "until_le: required"),
        ({"lab": "ck", "gt": 5, "until_le": 2.5}, "until_le: required"),
        ({"lab": "ck", "gt": 5, "which": "best"}, "which: expected"),
        ({"history": ["aki"], "recent": True}, "unknown key"),
    ],
)
def test_malformed_conditions(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ConditionError, match=message):
        compile_condition(spec)


def test_three_valued_logic() -> None:
    high = {"lab": "ck", "of": "uln", "gt": 5}
    missing = {"lab": "alt", "of": "uln", "gt": 3}
    ctx = ctx_with(labs=(lab("ck", 700, 100, days_ago(1), ident="ck"),))
    assert compile_condition({"all": [high, missing]})(ctx).value is None
    assert compile_condition({"any": [high, missing]})(ctx).value is True
    assert compile_condition({"not": missing})(ctx).value is None
    low = {"lab": "ck", "of": "uln", "gt": 50}
    assert compile_condition({"all": [low, missing]})(ctx).value is False
    outcome = compile_condition({"all": [high, missing]})(ctx)
    assert outcome.missing and "alt" in outcome.missing[0]
    assert outcome.rows and outcome.rows[0].observation == "Observation/ck"


def test_now_is_taken_from_the_request() -> None:
    ctx = ctx_with(labs=(lab("ck", 700, 100, NOW, ident="ck"),))
    assert compile_condition({"lab": "ck", "of": "uln", "gt": 5})(ctx).value is True
