"""Unit normalisation and conversion to an analyte's canonical unit (UCUM via ucumvert + pint, cached)."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from terminology.analytes import Analyte, get_analytes

__all__ = ["COMMON_UNITS", "Conversion", "convert_factor", "normalise_unit", "warm_up"]

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


def warm_up() -> None:
    """Build the unit registry and the factors of common units ahead of the first request (~1-2 s)."""
    _registry()
    for analyte in get_analytes().values():
        for unit in (analyte.unit, *COMMON_UNITS):
            convert_factor(analyte, unit)


def _tidy(value: Any) -> float:
    """Drop binary noise (0.0010000000000000002 -> 0.001) so exact boundaries stay exact."""
    return float(f"{float(value):.12g}")


_CACHE: dict[tuple[str, str, str], Conversion] = {}


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
    key = (analyte.id, unit, target or analyte.unit)
    found = _CACHE.get(key)
    if found is None:
        # pint is slow (milliseconds per parse): each (analyte, unit) pair is worked out once.
        found = _CACHE[key] = _factor(analyte, unit, key[2])
    return found
