"""LOINC code <-> analyte map (from the sourced package data in analytes.toml)."""

from __future__ import annotations

from collections.abc import Iterable

from terminology.analytes import analyte_for_loinc, get_analytes, panel_codes

__all__ = ["LOINC_SYSTEM", "analyte_for_loinc", "loinc_codes"]

LOINC_SYSTEM = "http://loinc.org"


def loinc_codes(analytes: Iterable[str] | None = None) -> list[str]:
    """LOINC codes of the given analytes (all known analytes when None) and of the panels that carry
    them as components, sorted; unknown ids are ignored."""
    table = get_analytes()
    wanted = list(table.keys()) if analytes is None else [a for a in analytes if a in table]
    return sorted({entry.code for a in wanted for entry in table[a].loinc} | set(panel_codes(wanted)))
