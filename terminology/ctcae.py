"""CTCAE v5.0 / v6.0 term tables from package data, with lookup by MedDRA code or term name."""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from terminology.errors import TerminologyError

__all__ = [
    "DEFAULT_VERSION",
    "SUPPORTED_VERSIONS",
    "CtcaeTable",
    "CtcaeTerm",
    "get_table",
    "map_v5_to_v6",
    "normalise_term",
]

DEFAULT_VERSION = "5.0"
SUPPORTED_VERSIONS = ("5.0", "6.0")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=4096)  # the same codes and displays recur in every hook call
def normalise_term(text: str) -> str:
    """Case- and punctuation-insensitive key of a term name ("Rash, acneiform" == "rash acneiform")."""
    return _NON_ALNUM.sub(" ", text.lower()).strip()


@dataclass(frozen=True, slots=True)
class CtcaeTerm:
    """One CTCAE term: MedDRA LLT code, SOC, name, grade 1..5 texts ('' = grade not defined)."""

    meddra_code: str
    soc: str
    term: str
    grades: tuple[str, str, str, str, str]
    definition: str
    note: str = ""

    def grade_text(self, grade: int) -> str:
        """The text of grade 1..5 ('' when the grade does not exist for this term)."""
        return self.grades[grade - 1] if 1 <= grade <= 5 else ""


class CtcaeTable:
    """All terms of one CTCAE version."""

    def __init__(self, version: str, terms: tuple[CtcaeTerm, ...]) -> None:
        self.version = version
        self.terms = terms
        self._by_code = {t.meddra_code: t for t in terms}
        self._by_name = {normalise_term(t.term): t for t in terms}

    def __len__(self) -> int:
        return len(self.terms)

    def lookup(self, name_or_meddra_code: str) -> CtcaeTerm | None:
        """A term by MedDRA LLT code or by name (case- and punctuation-insensitive)."""
        key = name_or_meddra_code.strip()
        return self._by_code.get(key) or self._by_name.get(normalise_term(key))

    def terms_in_soc(self, soc: str) -> tuple[CtcaeTerm, ...]:
        """Every term of a system organ class (e.g. "Eye disorders"), case-insensitive."""
        wanted = normalise_term(soc)
        return tuple(t for t in self.terms if normalise_term(t.soc) == wanted)


def _load_json(name: str) -> object:
    """Read one gzip JSON file of the package data."""
    try:
        raw = resources.files("terminology.data").joinpath(name).read_bytes()
    except FileNotFoundError as exc:
        raise TerminologyError(f"packaged CTCAE data {name} is missing") from exc
    return json.loads(gzip.decompress(raw))


def get_table(version: str = DEFAULT_VERSION) -> CtcaeTable:
    """The CTCAE table of a version ("5.0" or "6.0"), loaded once."""
    return _load_table(version)


@cache
def _load_table(version: str) -> CtcaeTable:
    if version not in SUPPORTED_VERSIONS:
        raise TerminologyError(
            f"CTCAE version {version!r} is not supported ({', '.join(SUPPORTED_VERSIONS)})"
        )
    data = _load_json(f"ctcae_v{version}.json.gz")
    if not isinstance(data, dict):
        raise TerminologyError(f"packaged CTCAE v{version} data is malformed")
    terms = tuple(
        CtcaeTerm(
            meddra_code=row["meddra_code"],
            soc=row["soc"],
            term=row["term"],
            grades=tuple(row["grades"]),
            definition=row["definition"],
            note=row.get("note", ""),
        )
        for row in data["terms"]
    )
    return CtcaeTable(version, terms)


@cache
def _v5_to_v6() -> dict[str, tuple[str, ...]]:
    data = _load_json("ctcae_v5_to_v6.json.gz")
    if not isinstance(data, dict):
        raise TerminologyError("packaged CTCAE v5 -> v6 mapping is malformed")
    return {normalise_term(k): tuple(v) for k, v in data.items()}


def map_v5_to_v6(v5_term: str) -> tuple[str, ...]:
    """The v6.0 term(s) NCI maps a v5.0 term (name or MedDRA code) to; () when unmapped."""
    term = get_table("5.0").lookup(v5_term)
    if term is None:
        return ()
    return _v5_to_v6().get(normalise_term(term.term), ())
