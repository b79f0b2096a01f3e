"""Unit normalisation and conversion to an analyte's canonical unit (UCUM via ucumvert + pint, cached)."""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from terminology.analytes import Analyte, get_analytes

__all__ = [
    "COMMON_UNITS",
    "FACTOR_TABLE",
    "Conversion",
    "build_factor_table",
    "convert_factor",
    "normalise_unit",
    "warm_up",
]

# Common non-UCUM spellings seen in lab feeds, mapped to the UCUM code they unambiguously mean.
_ALIASES = {
    "10^9/L": "10*9/L",
    "10E9/L": "10*9/L",
    "10e9/L": "10*9/L",
    "x10E9/L": "10*9/L",
    "x10^9/L": "10*9/L",
    "x 10^9/L": "10*9/L",
    "G/L": "10*9/L",
    "10^3/uL": "10*3/uL",
    "10E3/uL": "10*3/uL",
    "x10E3/uL": "10*3/uL",
    "K/uL": "10*3/uL",
    "k/uL": "10*3/uL",
    "10^3/mm3": "10*3/mm3",
    "cells/uL": "/uL",
    "cells/mm3": "/mm3",
    "/mm^3": "/mm3",
    "mmHg": "mm[Hg]",
    "mm Hg": "mm[Hg]",
    "msec": "ms",
    "sec": "s",
    "g/24h": "g/(24.h)",
    "g/24 h": "g/(24.h)",
    "g/24.h": "g/(24.h)",
    "mg/24h": "mg/(24.h)",
    "mL/min/1.73m2": "mL/min/{1.73_m2}",
    "mL/min/1.73 m2": "mL/min/{1.73_m2}",
    "ml/min/1.73m2": "mL/min/{1.73_m2}",
    "ml/min/1.73 m2": "mL/min/{1.73_m2}",
    "mL/min/1.73_m2": "mL/min/{1.73_m2}",
}
# Enzyme "international units" are µmol/min, the same as UCUM U; UCUM's [iU] is a different
# (biological-standard) unit, so these spellings are read as U only for enzyme analytes.
_ENZYME_IU = {"IU/L": "U/L", "[IU]/L": "U/L", "[iU]/L": "U/L", "iU/L": "U/L"}
_DIMENSIONLESS = {"", "1", "{INR}", "{ratio}", "ratio"}
_ANNOTATION = re.compile(r"\{[^}]*\}")


@dataclass(frozen=True, slots=True)
class Conversion:
    """Factor from a received unit to the analyte's canonical unit, or why there is none."""

    factor: float | None
    problem: str | None = None


def normalise_unit(unit: str | None, analyte: Analyte) -> str:
    """The UCUM code a received unit string stands for (aliases resolved, whitespace trimmed)."""
    text = (unit or "").strip()
    if analyte.unit == "1" and text in _DIMENSIONLESS:
        return "1"
    if analyte.unit == "U/L" and text in _ENZYME_IU:
        return _ENZYME_IU[text]
    return _ALIASES.get(text, text)


@cache
def _registry() -> Any:
    """The UCUM-aware pint registry (built once: it takes most of a second)."""
    module = importlib.import_module("ucumvert")
    return module.PintUcumRegistry()


# Units labs commonly send; warm_up() works their factors out for every analyte ahead of time.
COMMON_UNITS = (
    "U/L",
    "ukat/L",
    "mg/dL",
    "mg/L",
    "g/dL",
    "g/L",
    "umol/L",
    "mmol/L",
    "10*9/L",
    "10*3/uL",
    "/uL",
    "/mm3",
)


# Factors of every (analyte, usual unit) pair, worked out by pint ahead of time and shipped as
# package data: building the UCUM registry takes about a second, which neither start-up nor the
# first request should pay. tests/terminology/test_units.py checks the table against pint.
FACTOR_TABLE = "unit_factors.json"


def _table_units() -> list[str]:
    """The units the shipped table covers: common lab units, alias targets and threshold units."""
    from terminology.thresholds import get_rules  # late: thresholds imports this module's users

    units = {*COMMON_UNITS, *_ALIASES.values(), *_ENZYME_IU.values()}
    units |= {analyte.unit for analyte in get_analytes().values()}
    for version in ("5.0", "6.0"):
        for rule in get_rules(version):
            for band in (*rule.bands, *rule.baseline_bands):
                units |= {unit for unit, _ in band.values}
    return sorted(units)


def build_factor_table() -> dict[str, dict[str, list[float | str | None]]]:
    """Every (analyte, unit) factor computed live with pint: the content of FACTOR_TABLE."""
    table: dict[str, dict[str, list[float | str | None]]] = {}
    for analyte in sorted(get_analytes().values(), key=lambda a: a.id):
        row = table.setdefault(analyte.id, {})
        for unit in _table_units():
            conversion = _factor(analyte, unit, analyte.unit)
            row[unit] = [conversion.factor, conversion.problem]
    return table


@cache
def _shipped() -> dict[str, dict[str, Conversion]]:
    """FACTOR_TABLE as Conversions by analyte id, then unit."""
    text = resources.files("terminology.data").joinpath(FACTOR_TABLE).read_text(encoding="utf-8")
    table: dict[str, dict[str, list[Any]]] = json.loads(text)
    return {
        analyte_id: {unit: Conversion(factor, problem) for unit, (factor, problem) in row.items()}
        for analyte_id, row in table.items()
    }


def warm_up() -> None:
    """Load the shipped factor table (milliseconds); pint itself is built only for unusual units."""
    _shipped()


def _tidy(value: Any) -> float:
    """Drop binary noise (0.0010000000000000002 -> 0.001) so exact boundaries stay exact."""
    return float(f"{float(value):.12g}")


def _factor(analyte: Analyte, unit: str, target: str) -> Conversion:
    if unit == target:
        return Conversion(1.0)
    if not unit:
        return Conversion(None, "no unit")
    if sorted(_ANNOTATION.findall(unit)) != sorted(_ANNOTATION.findall(target)):
        return Conversion(None, f"unit {unit!r} is not comparable with {target!r} (annotation differs)")
    ureg = _registry()
    try:
        source, dest = ureg.from_ucum(unit), ureg.from_ucum(target)
    except Exception:  # any parse failure of an arbitrary unit string means "unknown unit"
        return Conversion(None, f"unknown unit {unit!r}")
    try:
        return Conversion(_tidy((source / dest).to("dimensionless").magnitude))
    except Exception:  # pint's DimensionalityError and friends: try a molar <-> mass conversion
        pass
    if analyte.molar_mass is None:
        return Conversion(None, f"unit {unit!r} is incompatible with {target!r}")
    molar = ureg.from_ucum("g/mol") * analyte.molar_mass
    for candidate in (source * molar / dest, source / molar / dest):
        try:
            return Conversion(_tidy(candidate.to("dimensionless").magnitude))
        except Exception:  # not this direction
            continue
    return Conversion(None, f"unit {unit!r} is incompatible with {target!r}")


def convert_factor(analyte: Analyte, unit: str, target: str | None = None) -> Conversion:
    """Multiplier from `unit` (normalised UCUM) to `target` (default: the analyte's canonical unit)."""
    if target is None or target == analyte.unit:
        shipped = _shipped().get(analyte.id, {}).get(unit)
        if shipped is not None:
            return shipped
    return _computed(analyte, unit, target or analyte.unit)


# Units arrive as free text in requests: the pairs worked out live are few but unbounded, so the
# cache keeps the most recent ones only. pint takes milliseconds per parse.
@lru_cache(maxsize=1024)
def _computed(analyte: Analyte, unit: str, target: str) -> Conversion:
    """A factor the shipped table does not hold, worked out with pint."""
    return _factor(analyte, unit, target)
