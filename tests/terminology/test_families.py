"""Term families and removed v5.0 terms: what a rule's `event` names stand for in each CTCAE version."""

from __future__ import annotations

import pytest

from terminology.facts import build_facts
from terminology.families import expand_terms, families, unknown_families

MDRAE = "http://terminology.hl7.org/CodeSystem/MDRAE"


def test_acneiform_family_in_v5() -> None:
    assert families()["acneiform-rash"] == ("Rash acneiform", "Papulopustular rash")
    assert expand_terms(["family:acneiform-rash"], "5.0") == {"Rash acneiform", "Papulopustular rash"}


def test_acneiform_family_in_v6_follows_the_nci_mapping() -> None:
    assert "Rash maculo-papular" in expand_terms(["family:acneiform-rash"], "6.0")


def test_removed_term_mapped_to_a_catch_all_keeps_its_name() -> None:
    names = expand_terms(["CPK increased"], "6.0")
    assert "CPK increased" in names
    assert not any(n.endswith("Other, specify") for n in names)


def test_unknown_family_is_named() -> None:
    assert unknown_families(["family:nope", "Rash acneiform"]) == ["family:nope"]


@pytest.mark.parametrize("version", ["5.0", "6.0"])
def test_recorded_cpk_event_keeps_the_term_rules_name(version: str) -> None:
    observation = {
        "resourceType": "Observation",
        "id": "cpk",
        "status": "final",
        "code": {"coding": [{"system": MDRAE, "code": "10011268", "display": "CPK increased"}]},
        "effectiveDateTime": "2026-03-01",
        "valueInteger": 2,
    }
    facts = build_facts([observation], ctcae_version=version)
    timeline = facts.timeline("CPK increased")
    assert timeline is not None and timeline.current_grade == 2
    if version == "6.0":
        note = timeline.events[0].evidence.note
        assert note is not None and "kept" in note and "Investigations - Other, specify" in note


def test_papulopustular_rash_is_read_under_its_own_v5_term() -> None:
    observation = {
        "resourceType": "Observation",
        "id": "pp",
        "status": "final",
        "code": {"coding": [{"system": MDRAE, "code": "10069138"}]},
        "effectiveDateTime": "2026-03-01",
        "valueInteger": 2,
    }
    facts = build_facts([observation])
    assert set(facts.timelines) & expand_terms(["family:acneiform-rash"], "5.0") == {"Papulopustular rash"}
