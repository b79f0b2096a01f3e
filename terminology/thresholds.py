"""CTCAE grading thresholds as data: one TOML table per CTCAE version, loaded once and checked."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import pairwise
from typing import Any, Literal

from terminology.analytes import get_analytes
from terminology.ctcae import get_table
from terminology.errors import TerminologyError

__all__ = [
    "Band",
    "GradableTerm",
    "Rule",
    "get_rules",
    "gradable_terms",
    "lowest_decides",
    "rules_for_analyte",
]

Op = Literal[">", ">=", "<", "<="]
Ref = Literal["ULN", "LLN", "baseline", "abs"]


@dataclass(frozen=True, slots=True)
class Band:
    """One grade threshold: `value <op> x * ref` (or `value <op> values[unit]` for absolute bands)."""

    grade: int
    op: Op
    ref: Ref
    row: str  # the CTCAE cell text as written
    x: float = 1.0
    values: tuple[tuple[str, float], ...] = ()  # (UCUM unit, threshold) for ref == "abs"
    canonical: float | None = None  # the absolute threshold in the analyte's canonical unit, if listed

    @property
    def label(self) -> str:
        """The rule row as shown on evidence, e.g. "Grade 3: >5 x ULN - 10 x ULN"."""
        return f"Grade {self.grade}: {self.row}"

    @property
    def increasing(self) -> bool:
        """True for bands of an 'increased' term (grade rises with the value)."""
        return self.op in (">", ">=")


@dataclass(frozen=True, slots=True)
class Rule:
    """How one analyte grades one CTCAE term in one version."""

    term: str
    meddra_code: str
    analyte: str
    bands: tuple[Band, ...]
    baseline_bands: tuple[Band, ...] = ()
    # When baseline bands apply: "above-uln" (baseline was abnormal, i.e. >ULN), "below-lln", "any".
    baseline_when: Literal["above-uln", "below-lln", "any"] = "any"
    # "replace": baseline bands instead of ULN bands; "max": the higher grade of both.
    baseline_combine: Literal["replace", "max"] = "max"
    note: str | None = None
    # The same bands, highest grade first (the order grading tries them), computed on load.
    bands_desc: tuple[Band, ...] = ()
    baseline_desc: tuple[Band, ...] = ()
    combined_desc: tuple[Band, ...] = ()
    # For each of the three: whether a value that fails its lowest band fails them all
    # (`lowest_decides`), computed on load; False is always safe (every band is then tried).
    bands_lowest_decides: bool = False
    baseline_lowest_decides: bool = False
    combined_lowest_decides: bool = False

    @property
    def increasing(self) -> bool:
        """True when a higher value means a higher grade."""
        return self.bands[0].increasing


def _desc(bands: tuple[Band, ...]) -> tuple[Band, ...]:
    return tuple(sorted(bands, key=lambda b: -b.grade))


def lowest_decides(bands_desc: tuple[Band, ...]) -> bool:
    """True when a value that fails the lowest band (the last, highest grade first) fails every band.

    Then a normal value is graded with one comparison instead of one per band. It holds when all
    bands are relative to the same reference (ULN, LLN or baseline), point the same way, and a
    higher grade asks for at least as large a multiple (as small a one, going down) with an
    operator no weaker: with a positive reference r the thresholds x * r are ordered like the
    multiples, and grading's tolerance (1e-9 relative) grows by less than the gap between two
    thresholds, so "fails x_low * r" implies "fails x_high * r". A '>' lowest band under a '>='
    band (or '<' under '<=') is excluded: a value on their common boundary fails one, holds the
    other.
    """
    if not bands_desc or bands_desc[0].ref == "abs" or any(b.x <= 0 for b in bands_desc):
        return False
    for higher, lower in pairwise(bands_desc):
        if higher.ref != lower.ref or higher.increasing != lower.increasing:
            return False
        if higher.increasing and (lower.x > higher.x or (lower.op == ">" and higher.op == ">=")):
            return False
        if not higher.increasing and (lower.x < higher.x or (lower.op == "<" and higher.op == "<=")):
            return False
    return True


@dataclass(frozen=True, slots=True)
class GradableTerm:
    """A CTCAE term toxhooks grades from measured values, with the analytes that feed it."""

    term: str
    meddra_code: str
    analytes: tuple[str, ...]


_OPS = {">", ">=", "<", "<="}
_REFS = {"ULN", "LLN", "baseline", "abs"}


def _band(raw: dict[str, Any], unit: str) -> Band:
    if raw["op"] not in _OPS or raw["ref"] not in _REFS or not 1 <= int(raw["grade"]) <= 5:
        raise ValueError(f"bad band {raw!r}")
    values = tuple((str(k), float(v)) for k, v in (raw.get("values") or {}).items())
    if raw["ref"] == "abs" and not values:
        raise ValueError(f"absolute band without values: {raw!r}")
    canonical = dict(values).get(unit)
    return Band(
        int(raw["grade"]), raw["op"], raw["ref"], str(raw["row"]), float(raw.get("x", 1.0)), values, canonical
    )


@cache
def get_rules(version: str) -> tuple[Rule, ...]:
    """Every grading rule of a CTCAE version, validated against the CTCAE table and analytes."""
    table, analytes = get_table(version), get_analytes()
    name = f"thresholds_v{version}.toml"
    try:
        data = tomllib.loads(resources.files("terminology.data").joinpath(name).read_text(encoding="utf-8"))
        rules = []
        for raw in data["rules"]:
            term = table.lookup(raw["term"])
            if term is None or term.term != raw["term"]:
                raise ValueError(f"term {raw['term']!r} is not in CTCAE v{version}")
            if raw["analyte"] not in analytes:
                raise ValueError(f"unknown analyte {raw['analyte']!r}")
            unit = analytes[raw["analyte"]].unit
            bands = tuple(_band(b, unit) for b in raw["bands"])
            baseline = tuple(_band(b, unit) for b in raw.get("baseline_bands", ()))
            if len({b.increasing for b in bands + baseline}) != 1:
                raise ValueError(f"{raw['term']!r} mixes increasing and decreasing bands")
            bands_desc, baseline_desc, combined_desc = _desc(bands), _desc(baseline), _desc(bands + baseline)
            rules.append(
                Rule(
                    term=term.term,
                    meddra_code=term.meddra_code,
                    analyte=raw["analyte"],
                    bands=bands,
                    baseline_bands=baseline,
                    bands_desc=bands_desc,
                    baseline_desc=baseline_desc,
                    combined_desc=combined_desc,
                    bands_lowest_decides=lowest_decides(bands_desc),
                    baseline_lowest_decides=lowest_decides(baseline_desc),
                    combined_lowest_decides=lowest_decides(combined_desc),
                    baseline_when=raw.get("baseline_when", "any"),
                    baseline_combine=raw.get("baseline_combine", "max"),
                    note=raw.get("note"),
                )
            )
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise TerminologyError(f"packaged {name} is invalid: {exc}") from exc
    return tuple(rules)


@cache
def _by_analyte(version: str) -> dict[str, tuple[Rule, ...]]:
    index: dict[str, list[Rule]] = {}
    for rule in get_rules(version):
        index.setdefault(rule.analyte, []).append(rule)
    return {k: tuple(v) for k, v in index.items()}


def rules_for_analyte(version: str, analyte: str) -> tuple[Rule, ...]:
    """The rules an analyte feeds in a CTCAE version (empty when it grades nothing)."""
    return _by_analyte(version).get(analyte, ())


def gradable_terms(version: str) -> tuple[GradableTerm, ...]:
    """The CTCAE terms graded from measured values in a version, sorted by term name."""
    merged: dict[str, GradableTerm] = {}
    for rule in get_rules(version):
        old = merged.get(rule.term)
        analytes = (*old.analytes, rule.analyte) if old else (rule.analyte,)
        merged[rule.term] = GradableTerm(rule.term, rule.meddra_code, analytes)
    return tuple(sorted(merged.values(), key=lambda t: t.term.lower()))
