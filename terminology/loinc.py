"""LOINC code <-> analyte map (STUB: empty)."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["loinc_codes"]


def loinc_codes(analytes: Iterable[str] | None = None) -> list[str]:
    """LOINC codes of the given analytes (all known analytes when None), sorted."""
    return []
