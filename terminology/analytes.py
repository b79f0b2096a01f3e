"""Lab analytes: canonical unit, molar mass, default reference range and LOINC codes (package data)."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from terminology.errors import TerminologyError

__all__ = ["Analyte", "LoincEntry", "analyte_for_loinc", "get_analyte", "get_analytes", "panel_codes"]


@dataclass(frozen=True, slots=True)
class LoincEntry:
    """One LOINC code mapped to an analyte, with its source and confirmation status."""

    code: str
    source: str
    verified: bool


@dataclass(frozen=True, slots=True)
class Analyte:
    """A lab analyte toxhooks reads, as declared in analytes.toml."""

    id: str
    display: str
    unit: str  # canonical UCUM unit of LabResult.value
    molar_mass: float | None = None  # g/mol, for mass <-> molar conversion
    molar_mass_source: str | None = None
    default_low: float | None = None  # canonical unit
    default_high: float | None = None
    default_range_source: str | None = None
    loinc: tuple[LoincEntry, ...] = ()


def _analyte(key: str, body: dict[str, Any], sources: dict[str, str]) -> Analyte:
    molar = body.get("molar_mass") or {}
    rng = body.get("default_range") or {}
    return Analyte(
        id=key,
        display=str(body["display"]),
        unit=str(body["unit"]),
        molar_mass=float(molar["value"]) if "value" in molar else None,
        molar_mass_source=sources.get(molar.get("source", ""), molar.get("source")),
        default_low=float(rng["low"]) if "low" in rng else None,
        default_high=float(rng["high"]) if "high" in rng else None,
        default_range_source=sources.get(rng.get("source", ""), rng.get("source")),
        loinc=tuple(
            LoincEntry(str(e["code"]), sources.get(e["source"], e["source"]), bool(e["verified"]))
            for e in body.get("loinc", ())
        ),
    )


@cache
def get_analytes() -> dict[str, Analyte]:
    """Every analyte by id, loaded once from the package data."""
    try:
        raw = resources.files("terminology.data").joinpath("analytes.toml").read_text(encoding="utf-8")
        data = tomllib.loads(raw)
        sources = {str(k): str(v) for k, v in data["sources"].items()}
        return {key: _analyte(key, body, sources) for key, body in data["analytes"].items()}
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise TerminologyError(f"packaged analytes.toml is invalid: {exc}") from exc


@cache
def _panels() -> tuple[tuple[str, frozenset[str]], ...]:
    try:
        raw = resources.files("terminology.data").joinpath("analytes.toml").read_text(encoding="utf-8")
        data = tomllib.loads(raw)
        return tuple(
            (str(body["code"]), frozenset(str(m) for m in body["members"]))
            for body in data.get("panels", {}).values()
        )
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise TerminologyError(f"packaged analytes.toml has invalid panels: {exc}") from exc


def panel_codes(analytes: Iterable[str]) -> tuple[str, ...]:
    """LOINC codes of the panels (e.g. blood pressure 85354-9) whose components include an analyte."""
    wanted = frozenset(analytes)
    return tuple(code for code, members in _panels() if members & wanted)


def get_analyte(analyte_id: str) -> Analyte | None:
    """One analyte by id."""
    return get_analytes().get(analyte_id)


@cache
def _by_loinc() -> dict[str, str]:
    return {entry.code: a.id for a in get_analytes().values() for entry in a.loinc}


def analyte_for_loinc(code: str) -> str | None:
    """The analyte id of a LOINC code, or None for codes toxhooks does not read."""
    return _by_loinc().get(code)
