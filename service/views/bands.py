"""CTCAE grade bands in multiples of the upper limit of normal, read from a term's grade texts."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

__all__ = ["GradeBand", "uln_bands"]

# A grade clause as the CTCAE tables write it: ">ULN - 2.5 x ULN", ">2.5 x ULN - 5 x ULN",
# ">3.0 - 5.0 x ULN", ">10 x ULN". Baseline-relative and absolute clauses do not match.
_CLAUSE = re.compile(
    r"^>\s*(?P<low>ULN|\d+(?:\.\d+)?)\s*(?P<lowx>x\s*ULN)?"
    r"\s*(?:-\s*(?P<high>\d+(?:\.\d+)?)\s*x\s*ULN)?(?P<rest>.*)$",
    re.IGNORECASE,
)
_BASELINE_NORMAL = re.compile(r"\s*if baseline was normal\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class GradeBand:
    """One grade's range as multiples of ULN: lower < x <= upper (upper None: open-ended)."""

    grade: int
    lower: float
    upper: float | None
    text: str  # the CTCAE clause the band was read from
    conditional: bool = False  # the clause adds a condition (symptoms...) beyond the value


def _band(grade: int, text: str) -> GradeBand | None:
    """The ULN band of one grade text, or None when the grade is not defined by ULN multiples."""
    for raw in text.split(";"):
        clause = _BASELINE_NORMAL.sub("", raw.strip())
        if "baseline" in clause.lower() or "ULN" not in clause.upper():
            continue
        match = _CLAUSE.match(clause)
        if match is None:
            continue
        low, high = match.group("low"), match.group("high")
        if high is None and match.group("lowx") is None:
            continue  # ">3.0" with no "x ULN" after it is not a ULN multiple
        lower = 1.0 if low.upper() == "ULN" else float(low)
        upper = float(high) if high is not None else None
        rest = match.group("rest").strip()
        return GradeBand(grade=grade, lower=lower, upper=upper, text=clause, conditional=bool(rest))
    return None


def uln_bands(grade_texts: Sequence[str]) -> tuple[GradeBand, ...]:
    """Bands of grades 1..4 from a CTCAE term's grade texts (Grade 1 first); () when not ULN-based.

    Only grades whose text is a ULN multiple are returned; a term whose grades are not
    contiguous ULN bands (e.g. graded on absolute values) yields no bands rather than a guess.
    """
    bands: list[GradeBand] = []
    for index, text in enumerate(grade_texts[:4]):
        band = _band(index + 1, text)
        if band is None:
            break
        bands.append(band)
    for previous, current in pairwise(bands):
        if previous.upper is None or abs(previous.upper - current.lower) > 1e-9:
            return ()
    return tuple(bands)
