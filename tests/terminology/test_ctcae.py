"""CTCAE package data: counts, lookups, SOC lists, v5 -> v6 mapping, provenance."""

from __future__ import annotations

from importlib import resources

import pytest

from terminology.ctcae import get_table, map_v5_to_v6, normalise_term
from terminology.errors import TerminologyError
from terminology.loinc import analyte_for_loinc, loinc_codes


def test_term_counts() -> None:
    assert len(get_table("5.0")) == 837
    assert len(get_table("6.0")) == 850
    assert get_table() is get_table("5.0")


@pytest.mark.parametrize("key", ["10011268", "CPK increased", "cpk INCREASED", " CPK-increased "])
def test_lookup_by_code_and_name(key: str) -> None:
    term = get_table("5.0").lookup(key)
    assert term is not None
    assert (term.term, term.meddra_code, term.soc) == ("CPK increased", "10011268", "Investigations")
    assert term.grades[2] == ">5 x ULN - 10 x ULN"
    assert term.grade_text(5) == "" and term.grade_text(9) == ""
    assert term.definition.startswith("A finding based on laboratory test results")


def test_unknown_term_and_version() -> None:
    assert get_table("5.0").lookup("no such term") is None
    assert get_table("6.0").lookup("CPK increased") is None
    with pytest.raises(TerminologyError):
        get_table("4.03")


def test_terms_in_soc() -> None:
    eye = get_table("5.0").terms_in_soc("eye disorders")
    assert len(eye) == 26 and all(t.soc == "Eye disorders" for t in eye)
    assert get_table("5.0").terms_in_soc("nothing") == ()


@pytest.mark.parametrize(
    ("v5", "v6"),
    [
        ("Rash acneiform", ("Rash maculo-papular",)),
        ("CPK increased", ("Investigations - Other, specify",)),
        ("Platelet count decreased", ("Thrombocytopenia",)),
        ("Anemia", ("Anemia",)),
        ("not a term", ()),
    ],
)
def test_v5_to_v6_mapping(v5: str, v6: tuple[str, ...]) -> None:
    assert map_v5_to_v6(v5) == v6


def test_normalise_term() -> None:
    assert normalise_term("Rash, ACNEIFORM!") == normalise_term("rash acneiform")


def test_provenance_is_packaged_with_checksums() -> None:
    text = resources.files("terminology.data").joinpath("PROVENANCE.txt").read_text()
    assert "sha256" in text and "CTCAE_v5.0_2017-11-27.csv" in text and "837 terms" in text


def test_loinc_map() -> None:
    assert analyte_for_loinc("2157-6") == "ck"
    assert analyte_for_loinc("14682-9") == "creatinine"
    assert analyte_for_loinc("9999-9") is None
    assert loinc_codes(["egfr"]) == ["33914-3", "62238-1", "98979-8"]
    assert loinc_codes(["nope"]) == []
    assert len(loinc_codes()) > 50 and loinc_codes() == sorted(loinc_codes())
