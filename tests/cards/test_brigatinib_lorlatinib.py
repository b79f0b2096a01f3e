"""Brigatinib and lorlatinib knowledge: recognition, label dosing, and unconfirmed rows kept advisory."""

from __future__ import annotations

import pytest

from cards.loader import load_knowledge
from terminology.drugs import RXNORM_SYSTEM, match_drug

KB = load_knowledge()
IDENTITIES = KB.drug_identities()


@pytest.mark.parametrize(
    ("text", "drug"),
    [
        ("Alunbrig 90 mg tablet", "brigatinib"),
        ("brigatinib 180 MG Oral Tablet", "brigatinib"),
        ("AP26113 study drug", "brigatinib"),
        ("LORBRENA 25 mg", "lorlatinib"),
        ("Lorviqua 100 mg film-coated tablets", "lorlatinib"),
        ("PF-06463922 100 mg", "lorlatinib"),
    ],
)
def test_recognised_by_brand_generic_and_code_name(text: str, drug: str) -> None:
    found = match_drug([], [text], IDENTITIES)
    assert found is not None and found.drug == drug


@pytest.mark.parametrize(
    ("code", "drug"), [("1921217", "brigatinib"), ("1921222", "brigatinib"), ("2103164", "lorlatinib")]
)
def test_recognised_by_rxnorm(code: str, drug: str) -> None:
    found = match_drug([(RXNORM_SYSTEM, code, None)], [], IDENTITIES)
    assert found is not None and found.drug == drug and found.match == "rxnorm"


def test_label_dosing_and_ladders() -> None:
    brig = KB.drugs["brigatinib"].spec
    lorl = KB.drugs["lorlatinib"].spec
    assert brig.starting_regimen is not None and lorl.starting_regimen is not None
    assert [(s.dose, s.per_day, s.days) for s in brig.starting_regimen.steps] == [(90, 1, 7), (180, 1, None)]
    assert [(s.dose, s.per_day, s.days) for s in lorl.starting_regimen.steps] == [(100, 1, None)]
    assert brig.dose_ladder is not None and lorl.dose_ladder is not None
    assert [lv.dose for lv in brig.dose_ladder.levels] == [180, 120, 90, 60]
    assert [lv.dose for lv in lorl.dose_ladder.levels] == [100, 75, 50]
    assert brig.identity.rxnorm[0] == "1921217" and lorl.identity.rxnorm[0] == "2103164"


@pytest.mark.parametrize("drug", ["brigatinib", "lorlatinib"])
def test_rules_citing_unretrieved_rows_are_unverified(drug: str) -> None:
    spec = KB.drugs[drug].spec
    for rule in spec.rules:
        reference = spec.references[rule.source]
        if not reference.verified:
            assert not rule.verified, rule.id


def test_alectinib_offers_both_alternatives_with_their_own_files() -> None:
    alectinib = KB.drugs["alectinib"]
    assert set(alectinib.alternatives) == {"brigatinib", "lorlatinib"}
    assert alectinib.alternatives["brigatinib"] is KB.drugs["brigatinib"].spec
