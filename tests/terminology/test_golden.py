"""Golden test: a sample Bundle of Observations, AdverseEvents, Conditions and orders -> PatientFacts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from terminology.facts import build_facts
from terminology.model import DrugIdentity, PatientFacts

HERE = Path(__file__).parent / "golden"
DRUGS = (
    DrugIdentity("alectinib", ("alectinib", "Alecensa"), rxnorm=("1727455", "1727479", "1727485")),
    DrugIdentity("doxycycline", ("doxycycline",), rxnorm=("3640",), role="co-medication"),
)


def _summary(facts: PatientFacts) -> dict[str, Any]:
    """The stable, comparable part of PatientFacts."""
    return {
        "ctcae_version": facts.ctcae_version,
        "timelines": {
            term: {
                "current": tl.current_grade,
                "worst": tl.worst_grade,
                "events": [
                    {
                        "grade": e.grade,
                        "version": e.ctcae_version,
                        "when": e.effective.isoformat() if e.effective else None,
                        "source": e.source.value,
                        "resource": e.evidence.resource,
                        "received": e.evidence.received,
                        "reference": e.evidence.reference_kind,
                        "default_range": e.evidence.reference_is_default,
                        "multiple": round(e.evidence.multiple, 3)
                        if e.evidence.multiple is not None
                        else None,
                        "rule_row": e.evidence.rule_row,
                        "note": e.evidence.note,
                        "suspects": list(e.suspect_drugs),
                        "qualifiers": dict(e.qualifiers),
                    }
                    for e in tl.events
                ],
            }
            for term, tl in facts.timelines.items()
        },
        "conditions": [[c.resource, c.kind, c.active] for c in facts.conditions],
        "orders": [
            [o.reference, o.drug.drug if o.drug else None, o.drug.match if o.drug else None, o.dose.daily]
            for o in facts.medications
        ],
        "exclusions": [[x.resource, x.subject, x.reason] for x in facts.exclusions],
    }


@pytest.mark.parametrize("version", ["5.0", "6.0"])
def test_bundle_against_golden(version: str) -> None:
    bundle = json.loads((HERE / "bundle.json").read_text())
    resources = [entry["resource"] for entry in bundle["entry"]]
    facts = build_facts(resources, ctcae_version=version, drugs=DRUGS)
    expected = json.loads((HERE / f"expected_v{version}.json").read_text())
    assert _summary(facts) == expected


def test_therapy_start_comes_from_the_therapy_order() -> None:
    bundle = json.loads((HERE / "bundle.json").read_text())
    resources = [entry["resource"] for entry in bundle["entry"]]
    from terminology.facts import therapy_start_of

    facts = build_facts(resources, drugs=DRUGS)
    assert therapy_start_of(facts.medications, DRUGS) == datetime(2024, 3, 5, tzinfo=UTC)
