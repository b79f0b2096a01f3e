"""Rules over the record as EHRs write it: v6.0 terms, term families, referrals, alternatives."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from cards.conditions import ConditionError, compile_condition
from service.offline import evaluate_offline
from service.settings import Settings

SCENARIOS = Path(__file__).parents[1] / "scenarios"
NOW = datetime(2026, 3, 16, 10, 0, tzinfo=timezone(timedelta(hours=1)))


def _cards(case: str, drop: str | None = None, **settings: Any) -> list[dict[str, Any]]:
    request = json.loads((SCENARIOS / case / "request.json").read_text(encoding="utf-8"))
    if drop is not None:  # leave one resource out of the labs
        labs = request["prefetch"]["labs"]
        labs["entry"] = [e for e in labs["entry"] if e["resource"]["id"] != drop]
    response = evaluate_offline(request, settings=Settings(**settings), now=NOW)
    cards: list[dict[str, Any]] = response["cards"]
    return cards


def _rules(cards: list[dict[str, Any]]) -> set[str]:
    return {c["source"]["topic"]["code"] for c in cards if "topic" in c["source"]}


def test_cpk_rule_matches_recorded_events_under_ctcae_v6() -> None:
    """v6.0 removed 'CPK increased': the rhabdomyolysis-with-AKI rule still sees the recorded event.

    The CK lab value is left out, so only the recorded CPK event can meet the rule.
    """
    rule = "avutometinib-defactinib.rhabdomyolysis.aki"
    assert rule in _rules(_cards("avutometinib-cpk-with-aki", drop="n-ck", ctcae_version="6.0"))
    assert rule in _rules(_cards("avutometinib-cpk-with-aki", drop="n-ck", ctcae_version="5.0"))


def test_acneiform_family_matches_under_ctcae_v6() -> None:
    assert "pimasertib.rash.grade-2" in _rules(
        _cards("pimasertib-papulopustular-rash-grade-2", ctcae_version="6.0")
    )


def test_doxycycline_and_minocycline_are_separate_alternatives() -> None:
    card = next(
        c for c in _cards("pimasertib-rash-grade-2") if c["source"]["topic"]["code"].endswith("grade-2")
    )
    orders = [
        [a["resource"]["medicationCodeableConcept"]["text"] for a in s["actions"] if a.get("resource")]
        for s in card["suggestions"]
    ]
    assert not any(
        any("doxycycline" in o for o in items) and any("minocycline" in o for o in items) for items in orders
    )
    labels = [s["label"] for s in card["suggestions"]]
    assert "Order doxycycline (oral) (or minocycline (oral))" in labels
    assert any(label.startswith("Order erythromycin (topical)") for label in labels)


def test_ocular_referral_is_text_only_without_a_confirmed_code() -> None:
    card = _cards("avutometinib-ocular-grade-1")[0]
    referral = next(a["resource"] for s in card["suggestions"] for a in s["actions"])
    assert referral["resourceType"] == "ServiceRequest"
    assert "ophthalmology" in referral["code"]["text"].lower()
    assert "coding" not in referral["code"]


def test_unknown_term_family_is_a_knowledge_error() -> None:
    with pytest.raises(ConditionError, match="unknown term family family:nope"):
        compile_condition({"event": ["family:nope"], "grade": [1, 5]})


UCUM = "http://unitsofmeasure.org"
SANDBOX_MEDICATION = {
    "coding": [
        {
            "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
            "code": "1727479",
            "display": "alectinib 150 MG Oral Capsule",
        }
    ]
}
SANDBOX_DOSAGE = [
    {
        "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
        "doseAndRate": [
            {
                "doseQuantity": {
                    "value": 4,
                    "unit": "{pill}",
                    "system": "http://unitsofmeasure.org",
                    "code": "{pill}",
                }
            }
        ],
    }
]


def _answer(request: dict[str, Any]) -> list[tuple[str, str, str]]:
    response = evaluate_offline(request, settings=Settings(), now=NOW)
    return sorted((c["source"]["topic"]["code"], c["indicator"], c["summary"]) for c in response["cards"])


@pytest.mark.parametrize(
    "case",
    [
        "alectinib-cpk-over-10x",
        "alectinib-cpk-over-5x",
        "alectinib-cpk-second-occurrence",
        "alectinib-cpk-resolved-resume-reduced",
        "alectinib-cpk-resolved-resume-same",
    ],
)
def test_sandbox_pill_order_gets_the_same_answer_as_600_mg(case: str) -> None:
    """4 {pill} of RxNorm 1727479 twice daily is 600 mg BID: every card is the one 600 mg gets."""
    request = json.loads((SCENARIOS / case / "request.json").read_text(encoding="utf-8"))
    expected = _answer(request)
    for entry in request["context"]["draftOrders"]["entry"]:
        draft = entry["resource"]
        if draft.get("resourceType") == "MedicationRequest":
            draft["medicationCodeableConcept"] = SANDBOX_MEDICATION
            draft["dosageInstruction"] = SANDBOX_DOSAGE
    assert expected and _answer(request) == expected
