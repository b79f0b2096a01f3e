"""The threshold tables agree with the packaged CTCAE text, analytes and sources."""

from __future__ import annotations

import re

import pytest

from terminology.analytes import get_analytes
from terminology.ctcae import get_table
from terminology.thresholds import get_rules, gradable_terms


def _squash(text: str) -> str:
    return re.sub(r"[\s]+", "", text.lower()).replace("≥", ">=")


@pytest.mark.parametrize("version", ["5.0", "6.0"])
def test_every_rule_row_is_quoted_from_its_grade_cell(version: str) -> None:
    table = get_table(version)
    for rule in get_rules(version):
        term = table.lookup(rule.term)
        assert term is not None
        for band in rule.bands + rule.baseline_bands:
            cell = _squash(term.grade_text(band.grade))
            # a row may quote one clause of the cell; each ';'-separated piece must appear in it
            for piece in band.row.split(";"):
                assert _squash(piece) in cell, (rule.term, band.grade, piece)


def test_gradable_term_counts() -> None:
    assert len(gradable_terms("5.0")) == 39
    assert len(gradable_terms("6.0")) == 35
    v5 = {t.term for t in gradable_terms("5.0")}
    assert {"CPK increased", "Hypertension", "Electrocardiogram QT corrected interval prolonged"} <= v5
    assert "CPK increased" not in {t.term for t in gradable_terms("6.0")}


def test_bands_rise_with_grade() -> None:
    for version in ("5.0", "6.0"):
        for rule in get_rules(version):
            grades = [b.grade for b in rule.bands]
            assert grades == sorted(grades), rule.term


def test_every_loinc_code_and_default_has_a_source() -> None:
    for analyte in get_analytes().values():
        for entry in analyte.loinc:
            assert entry.source and re.fullmatch(r"\d{1,6}-\d", entry.code)
        if analyte.default_low is not None or analyte.default_high is not None:
            assert analyte.default_range_source
        if analyte.molar_mass is not None:
            assert analyte.molar_mass_source


def test_unconfirmed_bilirubin_molar_loinc_is_marked() -> None:
    bilirubin = get_analytes()["bilirubin"]
    status = {e.code: e.verified for e in bilirubin.loinc}
    assert status == {"1975-2": True, "14631-6": False}
