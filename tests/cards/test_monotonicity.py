"""Property: a worse patient state never gets a less protective answer, for every knowledge file.

States are generated from what each file's rules read: graded events of their CTCAE terms (one
term per SOC), lab series of their analytes (as multiples of ULN; creatinine also of baseline),
qualifiers recorded yes / no / not at all, and the hook (patient-view on the active order, or
order-sign of a full-dose draft). A worse state raises one latest grade, raises one latest lab
value, or adds a later value at least as abnormal (a further occurrence).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cards.decisions import category, rank
from cards.engine import evaluate
from cards.loader import KnowledgeBase
from cards.model import EvaluationRequest, RenderedCard
from terminology.analytes import get_analyte
from terminology.model import GradedEvent, LabResult, MedicationOrder
from tests.cards.builders import days_ago, event, facts, lab, order, request
from tests.cards.helpers import knowledge, run
from tests.cards.knowledge_walk import against_baseline, analytes, event_terms, qualifiers

DRUGS = sorted(knowledge().drugs)
# Reference limits the generated values are written against (typical adult ULNs); an analyte not
# listed takes the default upper limit terminology declares for it, so absolute thresholds
# (cholesterol > 500 mg/dL) are crossed by the same multiples.
_ULN = {"alt": 40.0, "ast": 40.0, "bilirubin": 1.2, "ck": 200.0, "creatinine": 1.1}
_MULTIPLES = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 5.5, 6.0, 10.0, 12.0)
_DAYS = (20.0, 12.0, 6.0, 2.0)  # history, oldest first; a worse later value comes at day 1
# Files without a dose ladder or starting regimen state their protocol dose in words only.
_PROTOCOL_DOSE = {"pimasertib": (60.0, 2.0), "avutometinib-defactinib": (200.0, 2.0)}
_ACTION = {"delete": 2, "on-hold": 2, "stopped": 3, "update": 1}


def upper_limit(analyte: str) -> float:
    """The ULN generated values are written against."""
    if analyte in _ULN:
        return _ULN[analyte]
    known = get_analyte(analyte)
    return known.default_high if known is not None and known.default_high else 1.0


def full_dose(drug: str) -> tuple[float, float]:
    """(mg per administration, administrations a day) at full dose: the file's ladder top or regimen."""
    spec = knowledge().drugs[drug].spec
    if spec.dose_ladder is not None:
        top = spec.dose_ladder.levels[0]
        return top.dose, top.per_day
    if spec.starting_regimen is not None:
        last = spec.starting_regimen.steps[-1]
        return last.dose, last.per_day
    return _PROTOCOL_DOSE[drug]


def _action_rank(card: RenderedCard) -> int:
    """How strongly the card's recommended suggestions change the order of the drug."""
    best = 0
    for suggestion in card.card.suggestions or ():
        if not suggestion.isRecommended:
            continue
        for action in suggestion.actions or ():
            if action.type == "delete":
                best = max(best, _ACTION["delete"])
            elif action.type == "update" and action.resource:
                best = max(best, _ACTION.get(str(action.resource.get("status")), 0) or _ACTION["update"])
    return best


def protection(cards: list[RenderedCard], drug: str) -> tuple[int, int, bool]:
    """(decision rank, order-change rank, possible DLT flagged) of the drug's cards."""
    mine = [c for c in cards if c.drug == drug]
    managed = [c for c in mine if category(c.decision) == "management"]
    return (
        max((rank(c.decision) for c in managed), default=0),
        max((_action_rank(c) for c in managed), default=0),
        any(c.decision == "flag-dlt" for c in mine),
    )


def _at_least(worse: tuple[int, int, bool], base: tuple[int, int, bool]) -> bool:
    return worse[0] >= base[0] and worse[1] >= base[1] and (worse[2] or not base[2])


@st.composite
def states(draw: Any, drug: str) -> dict[str, Any]:
    """A patient: event grade histories, lab multiple series, recorded qualifiers, hook."""
    terms = event_terms(drug)
    chosen = draw(st.lists(st.sampled_from(terms), unique=True, min_size=1, max_size=3)) if terms else []
    grades = {t: draw(st.lists(st.integers(0, 5), min_size=1, max_size=3)) for t in chosen}
    labs = {a: draw(st.lists(st.sampled_from(_MULTIPLES), min_size=1, max_size=3)) for a in analytes(drug)}
    recorded = {q: draw(st.sampled_from((None, True, False))) for q in qualifiers(drug)}
    hook = draw(st.sampled_from(("patient-view", "order-sign")))
    return {"drug": drug, "grades": grades, "labs": labs, "recorded": recorded, "hook": hook}


def _events(state: dict[str, Any]) -> tuple[GradedEvent, ...]:
    out = []
    for term, series in state["grades"].items():
        days = _DAYS[-len(series) :] if len(series) <= len(_DAYS) else (*_DAYS, *[1.0] * (len(series) - 4))
        if len(series) > len(_DAYS):
            days = tuple(20.0 - 19.0 * i / (len(series) - 1) for i in range(len(series)))
        items = [
            event(term, g, days_ago(d), ident=f"{i}")
            for i, (g, d) in enumerate(zip(series, days, strict=True))
        ]
        out += items
    latest: dict[str, GradedEvent] = {}
    for item in out:
        latest[item.term] = item
    for name, value in state["recorded"].items():
        if value is None:
            continue
        for term in qualifiers(state["drug"])[name]:
            if term in latest:
                item = latest[term]
                marked = replace(item, qualifiers=(*item.qualifiers, (name, value)))
                out[out.index(item)] = marked
                latest[term] = marked
    return tuple(out)


def _labs(state: dict[str, Any]) -> tuple[LabResult, ...]:
    out = []
    for analyte, series in state["labs"].items():
        uln = upper_limit(analyte)
        days = tuple(20.0 - 18.0 * i / max(len(series) - 1, 1) for i in range(len(series)))
        if len(series) == 1:
            days = (2.0,)
        for i, (multiple, day) in enumerate(zip(series, days, strict=True)):
            baseline = round(0.7 * uln, 3) if analyte in against_baseline(state["drug"]) else None
            out.append(
                lab(analyte, multiple * uln, uln, days_ago(day), ident=f"{analyte}-{i}", baseline=baseline)
            )
    return tuple(out)


def request_for(state: dict[str, Any]) -> EvaluationRequest:
    """The engine's request for a generated state: the drug on record, and a draft on order-sign."""
    drug = state["drug"]
    amount, per_day = full_dose(drug)
    on_record: MedicationOrder = order(
        drug, amount, per_day, ident="on", draft=False, status="active", start=days_ago(60)
    )
    patient = facts(events=_events(state), labs=_labs(state), medications=(on_record,))
    drafts = (order(drug, amount, per_day, ident="draft"),) if state["hook"] == "order-sign" else ()
    return request(state["hook"], patient, *drafts)


def cards_for(state: dict[str, Any], base: KnowledgeBase | None = None) -> list[RenderedCard]:
    """Run the engine on a generated state (with the built-in knowledge unless `base`)."""
    req = request_for(state)
    if base is None:
        return run(req)
    return [c for c in evaluate(req, base).cards if not c.rule_ids[0].endswith(".monitoring.schedule")]


def answer(state: dict[str, Any]) -> tuple[int, int, bool]:
    """Run the engine on a generated state and measure how protective its answer is."""
    return protection(cards_for(state), state["drug"])


def _reversed(drug: str) -> KnowledgeBase:
    """The built-in knowledge with `drug`'s rules in the opposite file order."""
    built_in = knowledge()
    item = built_in.drugs[drug]
    flipped = replace(item, rules=tuple(reversed(item.rules)))
    return replace(built_in, drugs={**built_in.drugs, drug: flipped})


@st.composite
def worsened(draw: Any, drug: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A state and the same state made worse in one dimension."""
    base = draw(states(drug))
    worse = {
        **base,
        "grades": {k: list(v) for k, v in base["grades"].items()},
        "labs": {k: list(v) for k, v in base["labs"].items()},
    }
    options = []
    if worse["grades"]:
        options += ["raise-grade", "further-event"]
    if worse["labs"]:
        options += ["raise-lab", "further-lab"]
    how = draw(st.sampled_from(options))
    if how in ("raise-grade", "further-event"):
        term = draw(st.sampled_from(sorted(worse["grades"])))
        series = worse["grades"][term]
        higher = draw(st.integers(series[-1], 5))
        if how == "raise-grade":
            series[-1] = higher
        else:
            series.append(higher)
    else:
        analyte = draw(st.sampled_from(sorted(worse["labs"])))
        series = worse["labs"][analyte]
        higher = draw(st.sampled_from([m for m in _MULTIPLES if m >= series[-1]]))
        if how == "raise-lab":
            series[-1] = higher
        else:
            series.append(higher)
    return base, worse


_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("drug", DRUGS)
def test_a_worse_state_is_never_less_protected(drug: str) -> None:
    @_SETTINGS
    @given(pair=worsened(drug))
    def check(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
        base, worse = pair
        assert _at_least(answer(worse), answer(base)), (base, worse)

    check()


@pytest.mark.parametrize("drug", [d for d in DRUGS if qualifiers(d)])
def test_recording_a_qualifier_never_removes_the_interim_answer(drug: str) -> None:
    @_SETTINGS
    @given(state=states(drug), value=st.booleans(), data=st.data())
    def check(state: dict[str, Any], value: bool, data: Any) -> None:
        name = data.draw(st.sampled_from(sorted(qualifiers(drug))))
        unknown = {**state, "recorded": {**state["recorded"], name: None}}
        known = {**state, "recorded": {**state["recorded"], name: value}}
        interim = answer(unknown)
        assert _at_least(answer(known), interim), (unknown, name, value)

    check()


def test_every_knowledge_file_has_a_full_dose_and_generated_states() -> None:
    for drug in DRUGS:
        amount, per_day = full_dose(drug)
        assert amount > 0 and per_day > 0
        assert event_terms(drug) or analytes(drug), drug


@pytest.mark.parametrize("drug", DRUGS)
def test_the_file_order_of_rules_never_decides_the_card(drug: str) -> None:
    flipped = _reversed(drug)

    @_SETTINGS
    @given(state=states(drug))
    def check(state: dict[str, Any]) -> None:
        def leads(cards: list[RenderedCard]) -> list[tuple[str, str, str]]:
            return sorted((c.decision, c.rule_ids[0], c.card.summary) for c in cards if c.drug == drug)

        assert leads(cards_for(state, flipped)) == leads(cards_for(state)), state

    check()
