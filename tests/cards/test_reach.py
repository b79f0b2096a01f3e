"""The bound on earlier outcomes (cards.reach) never rules out what the replay would find.

Generated patients carry graded events of the terms each file's rules read and lab series of
their analytes, spread over three months so that values turn stale, with qualifiers recorded yes,
no or not at all, and coded diagnoses of the kinds history nodes name. Every node of every rule's
`when` and `recovery` is evaluated for the patient as of each earlier moment and now: the outcome
must be one the bound allows. And the engine with the bound gives the same cards as the engine
replaying every rule.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cards import engine
from cards.conditions import compile_condition
from cards.context import Context, Outcome
from cards.engine import _as_of, _moments, _seen_count, _subjects
from cards.model import EvaluationRequest
from cards.reach import Reach, may_open_earlier, reach, reach_at
from terminology.model import GradedEvent, HistoryCondition, LabResult
from tests.cards.builders import days_ago, event, facts, lab, order, request
from tests.cards.helpers import knowledge
from tests.cards.knowledge_walk import _nodes, analytes, event_terms, qualifiers, rule_trees
from tests.cards.test_monotonicity import _MULTIPLES, full_dose, upper_limit

DRUGS = sorted(knowledge().drugs)
_DAYS = (90.0, 61.0, 45.0, 31.0, 29.5, 20.0, 12.0, 6.0, 2.0, 1.0, 0.25)
# Coded diagnoses the rules' history nodes name, and one none names.
_HISTORY_KINDS = sorted(
    {str(k) for _, _, _, tree in rule_trees() for n in _nodes(tree) for k in n.get("history", ())} | {"aki"}
)


@st.composite
def patients(draw: Any, drug: str) -> EvaluationRequest:
    """A patient on `drug` with event and lab histories of what its rules read."""
    terms = event_terms(drug)
    asked = qualifiers(drug)
    events: list[GradedEvent] = []
    for term in draw(st.lists(st.sampled_from(terms), unique=True, max_size=3)) if terms else []:
        days = sorted(
            draw(st.lists(st.sampled_from(_DAYS), unique=True, min_size=1, max_size=5)), reverse=True
        )
        for i, day in enumerate(days):
            recorded = tuple(
                (name, value)
                for name, on in asked.items()
                if term in on and (value := draw(st.sampled_from((None, True, False)))) is not None
            )
            events.append(
                event(term, draw(st.integers(0, 5)), days_ago(day), ident=str(i), qualifiers=recorded)
            )
    labs: list[LabResult] = []
    for analyte in analytes(drug):
        uln = upper_limit(analyte)
        days = sorted(draw(st.lists(st.sampled_from(_DAYS), unique=True, max_size=6)), reverse=True)
        for i, day in enumerate(days):
            value = draw(st.sampled_from(_MULTIPLES)) * uln
            labs.append(lab(analyte, value, uln, days_ago(day), ident=f"{analyte}-{i}", baseline=0.7 * uln))
    conditions = tuple(
        HistoryCondition(
            resource=f"Condition/{kind}",
            kind=kind,
            display=kind,
            onset=days_ago(draw(st.sampled_from(_DAYS))),
            active=draw(st.booleans()),
            suspect_drugs=draw(st.sampled_from(((), (drug,), ("another-drug",)))),
        )
        for kind in draw(st.lists(st.sampled_from(_HISTORY_KINDS), unique=True, max_size=2))
    )
    amount, per_day = full_dose(drug)
    on_record = order(drug, amount, per_day, ident="on", draft=False, status="active", start=days_ago(120))
    patient = facts(events=tuple(events), labs=tuple(labs), conditions=conditions, medications=(on_record,))
    hook = draw(st.sampled_from(("patient-view", "order-sign")))
    drafts = (order(drug, amount, per_day, ident="draft"),) if hook == "order-sign" else ()
    return request(hook, patient, *drafts)


def contexts(req: EvaluationRequest, drug: str) -> list[Context]:
    """What the engine evaluates the drug's rules with, one per subject."""
    base = knowledge()
    item = base.drugs[drug]
    return [
        Context(
            request=req,
            subject=subject,
            classes=base.class_map,
            lab_max_age_days=item.spec.lab_max_age_days,
            event_max_age_days=item.spec.event_max_age_days,
        )
        for subject in _subjects(req, drug)
    ]


def allowed(outcome: Outcome, bound: Reach) -> bool:
    """The outcome is one the bound says the node may have."""
    if outcome.value is True:
        return bound.true
    if outcome.value is None and not outcome.missing:
        return bound.undecided and (bound.open or not outcome.open)
    return True


_SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("drug", DRUGS)
def test_no_node_has_an_outcome_its_bound_rules_out(drug: str) -> None:
    trees = [tree for name, _, _, tree in rule_trees() if name == drug]

    @_SETTINGS
    @given(req=patients(drug))
    def check(req: EvaluationRequest) -> None:
        for ctx in contexts(req, drug):
            seen = [ctx] + [_as_of(ctx, moment) for moment in _moments(ctx) if moment < req.now]
            for tree in trees:
                for node in _nodes(tree):
                    bound = reach(ctx, node)
                    condition = compile_condition(node)
                    for past in seen:
                        outcome = condition(past)
                        assert allowed(outcome, bound), (node, past.request.now, outcome, bound)

    check()


@pytest.mark.parametrize("drug", DRUGS)
def test_no_node_has_an_outcome_its_bound_at_that_moment_rules_out(drug: str) -> None:
    trees = [tree for name, _, _, tree in rule_trees() if name == drug]

    @_SETTINGS
    @given(req=patients(drug))
    def check(req: EvaluationRequest) -> None:
        for ctx in contexts(req, drug):
            for moment in (*(m for m in _moments(ctx) if m < req.now), req.now):
                past = _as_of(ctx, moment)

                labs = ctx.request.facts.labs
                seen = {a: _seen_count(ctx, ("l", a), labs.get(a, ()), moment) for a in analytes(drug)}
                for tree in trees:
                    for node in _nodes(tree):
                        bound = reach_at(ctx, node, seen)
                        outcome = compile_condition(node)(past)
                        assert allowed(outcome, bound), (node, moment, outcome, bound)

    check()


@pytest.mark.parametrize("drug", DRUGS)
def test_the_engine_gives_the_same_cards_without_the_bound(drug: str) -> None:
    @_SETTINGS
    @given(req=patients(drug))
    def check(req: EvaluationRequest) -> None:
        with_bound = engine.evaluate(req, knowledge())
        with (
            mock.patch.object(engine, "may_open_earlier", lambda ctx, spec: True),
            mock.patch.object(engine, "may_open_at", lambda ctx, spec, seen: True),
        ):
            replayed = engine.evaluate(req, knowledge())
        assert with_bound == replayed

    check()


def test_a_rule_whose_lab_never_met_its_threshold_is_not_replayed() -> None:
    req = request(
        "order-sign",
        facts(labs=tuple(lab("ck", 300.0, 200.0, days_ago(d), ident=f"ck-{d}") for d in (20, 10, 1))),
        order("alectinib"),
    )
    (ctx,) = contexts(req, "alectinib")
    rules = {rule.spec.id: rule for rule in knowledge().drugs["alectinib"].rules}
    assert not may_open_earlier(ctx, rules["alectinib.cpk.over-10x-or-recurrent"].spec.when)
    # 1.5 x ULN meets "> 5 x ULN" nowhere; a value at 6 x ULN would.
    higher = replace(
        req.facts, labs={"ck": (*req.facts.labs["ck"], lab("ck", 2100.0, 200.0, days_ago(0.5), ident="x"))}
    )
    (ctx,) = contexts(replace(req, facts=higher), "alectinib")
    assert may_open_earlier(ctx, rules["alectinib.cpk.over-10x-or-recurrent"].spec.when)
