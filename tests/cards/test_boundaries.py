"""Every threshold of every rule, tested just below, exactly at and just above (decimal arithmetic)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from cards.conditions import compile_condition
from cards.context import Context, Subject
from cards.engine import evaluate
from tests.cards.builders import days_ago, event, facts, lab, order, request
from tests.cards.helpers import knowledge, only
from tests.cards.knowledge_walk import GradeRange, Threshold, grade_ranges, thresholds

# Reference values whose products and quotients are not exact in binary floating point.
_REFERENCES = (0.8, 1.1, 1.2, 0.3, 40.0, 200.0)
_THRESHOLDS = thresholds()
_RANGES = grade_ranges()
_EXPECTED = {  # (below, at, above)
    "gt": (False, False, True),
    "ge": (False, True, True),
    "lt": (True, False, False),
    "le": (True, True, False),
}


def _ctx(req: Any) -> Context:
    subject = Subject(
        drug="x", order=req.draft_orders[0] if req.draft_orders else None, therapy_start=None, new_start=False
    )
    return Context(request=req, subject=subject, classes={})


def _value(threshold: float, reference: float, step: str) -> float:
    """threshold x reference shifted by `step` of the reference, written as a lab would send it."""
    return float(str((Decimal(str(threshold)) + Decimal(step)) * Decimal(str(reference))))


def _lab_outcome(item: Threshold, value: float, reference: float) -> bool | None:
    node = {"lab": item.node["lab"], "of": item.node.get("of", "uln"), item.op: item.value}
    of = node["of"]
    uln = reference if of == "uln" else 1.0
    baseline = reference if of == "baseline" else None
    result = lab(str(node["lab"]), value, uln, days_ago(1), ident="v", baseline=baseline)
    return compile_condition(node)(_ctx(request("patient-view", facts(labs=(result,))))).value


def _dose_outcome(item: Threshold, amount: float) -> bool | None:
    node = {"dose": item.node["dose"], item.op: item.value}
    draft = order(item.drug, amount, 1)
    return compile_condition(node)(_ctx(request("order-sign", facts(), draft))).value


@pytest.mark.parametrize(
    "item", _THRESHOLDS, ids=[f"{t.rule}:{t.where}:{t.op}{t.value:g}" for t in _THRESHOLDS]
)
def test_every_threshold_below_at_above(item: Threshold) -> None:
    below, at, above = _EXPECTED[item.op]
    if "dose" in item.node:
        got = tuple(
            _dose_outcome(item, float(Decimal(str(item.value)) + d))
            for d in (Decimal("-0.1"), 0, Decimal("0.1"))
        )
        assert got == (below, at, above), item
        return
    for reference in _REFERENCES if item.node.get("of", "uln") != "value" else (1.0,):
        got = tuple(
            _lab_outcome(item, _value(item.value, reference, s), reference) for s in ("-0.01", "0", "0.01")
        )
        assert got == (below, at, above), (item, reference)


@pytest.mark.parametrize("item", _RANGES, ids=[f"{r.rule}:{r.term}:{r.low}-{r.high}" for r in _RANGES])
def test_every_grade_range_edges(item: GradeRange) -> None:
    node = {"event": [item.term], "grade": [item.low, item.high]}
    condition = compile_condition(node)

    def at(grade: int) -> bool | None:
        patient = facts(events=(event(item.term, grade, days_ago(1)),))
        return condition(_ctx(request("patient-view", patient))).value

    assert at(item.low) is True and at(item.high) is True
    if item.low > 0:
        assert at(item.low - 1) is False
    if item.high < 5:
        assert at(item.high + 1) is False


def test_the_boundary_tests_cover_every_knowledge_file() -> None:
    drugs = {t.drug for t in _THRESHOLDS} | {r.drug for r in _RANGES}
    assert drugs == set(knowledge().drugs)
    assert len(_THRESHOLDS) >= 30 and len(_RANGES) >= 20


def test_creatinine_exactly_one_and_a_half_times_baseline_meets_ge_1_5() -> None:
    # 1.2 / 0.8 is 1.4999999999999998 in binary floating point.
    ck = lab("ck", 2400, 200, days_ago(1), ident="ck")
    creatinine = lab("creatinine", 1.2, 1.1, days_ago(1), ident="cr", baseline=0.8)
    on_record = order(
        "avutometinib-defactinib", 200, 2, ident="avd", draft=False, status="active", start=days_ago(50)
    )
    cards = evaluate(
        request("patient-view", facts(labs=(ck, creatinine), medications=(on_record,))), knowledge()
    ).cards
    card = only(list(cards), "avutometinib-defactinib", "withhold")
    assert card.rule_ids[0] == "avutometinib-defactinib.rhabdomyolysis.cpk-creatinine"
