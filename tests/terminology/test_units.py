"""Unit normalisation and conversion: UCUM codes, common spellings, molar masses, refusals."""

from __future__ import annotations

import pytest

from terminology.analytes import get_analyte
from terminology.units import convert_factor, normalise_unit


def _factor(analyte_id: str, unit: str) -> float | None:
    analyte = get_analyte(analyte_id)
    assert analyte is not None
    return convert_factor(analyte, normalise_unit(unit, analyte)).factor


@pytest.mark.parametrize(
    ("analyte", "unit", "factor"),
    [
        ("ck", "U/L", 1.0),
        ("ck", "ukat/L", 60.0),
        ("ck", "IU/L", 1.0),
        ("neutrophils", "/mm3", 0.001),
        ("neutrophils", "10*3/uL", 1.0),
        ("neutrophils", "x10E9/L", 1.0),
        ("neutrophils", "cells/uL", 0.001),
        ("hemoglobin", "g/L", 0.1),
        ("hemoglobin", "mmol/L", 16114 / 10000),
        ("creatinine", "umol/L", 113.12 / 10000),
        ("creatinine", "mg/L", 0.1),
        ("bilirubin", "umol/L", 584.66 / 10000),
        ("glucose", "mmol/L", 180.16 / 10),
        ("calcium", "mmol/L", 40.078 / 10),
        ("qtc", "s", 1000.0),
        ("systolic-bp", "mmHg", 1.0),
        ("egfr", "mL/min/1.73m2", 1.0),
        ("inr", "{INR}", 1.0),
        ("inr", "", 1.0),
        ("urine-protein-24h", "mg/(24.h)", 0.001),
    ],
)
def test_known_conversions(analyte: str, unit: str, factor: float) -> None:
    assert _factor(analyte, unit) == pytest.approx(factor, rel=1e-9)


@pytest.mark.parametrize(
    ("analyte", "unit"),
    [
        ("ck", "mg/dL"),  # incompatible dimension
        ("ck", "u/L"),  # UCUM 'u' is the atomic mass unit: not guessed to be U
        ("ck", "furlong"),
        ("ck", ""),
        ("neutrophils", "%"),  # a differential percentage is not a count
        ("egfr", "mL/min"),  # a creatinine clearance is not an eGFR
        ("albumin", "mmol/L"),  # no molar mass kept for albumin
        ("potassium", "[iU]/L"),  # IU spellings mean U only for enzymes
    ],
)
def test_unknown_or_incompatible_units_are_refused(analyte: str, unit: str) -> None:
    assert _factor(analyte, unit) is None


def test_identical_units_convert_exactly() -> None:
    assert _factor("creatinine", "mg/dL") == 1.0


def test_units_from_requests_do_not_grow_the_cache_without_bound() -> None:
    from terminology import units

    for n in range(3000):  # free-text units a client may send, each refused (annotation differs)
        assert _factor("alt", f"U/L{{{n}}}") is None
    info = units._computed.cache_info()
    assert info.maxsize is not None and info.currsize <= info.maxsize < 3000


@pytest.mark.slow  # builds the UCUM registry and every factor with pint: about 5 s
def test_the_shipped_factor_table_is_what_pint_computes() -> None:
    """terminology/data/unit_factors.json is generated; regenerate with units.build_factor_table()."""
    import json
    from importlib import resources

    from terminology.units import FACTOR_TABLE, build_factor_table

    shipped = json.loads(resources.files("terminology.data").joinpath(FACTOR_TABLE).read_text())
    assert shipped == json.loads(json.dumps(build_factor_table()))
    assert shipped["creatinine"]["umol/L"][0] == pytest.approx(1 / 88.42, rel=1e-3)
