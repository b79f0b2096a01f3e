"""Coded diagnoses of interest (SJS, TEN, DRESS...): SNOMED CT / ICD-10 codes and CTCAE terms -> kind ids."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from terminology.ctcae import normalise_term
from terminology.errors import TerminologyError

__all__ = ["ConditionKind", "condition_kinds", "kind_for_code", "kind_for_term"]


@dataclass(frozen=True, slots=True)
class ConditionKind:
    """One diagnosis concept: id, display, codes (system URL, code, verified) and CTCAE terms."""

    kind: str
    display: str
    codes: tuple[tuple[str, str, bool], ...]
    ctcae_terms: tuple[str, ...]


@cache
def condition_kinds() -> dict[str, ConditionKind]:
    """Every diagnosis kind by id, loaded once from conditions.toml."""
    try:
        text = resources.files("terminology.data").joinpath("conditions.toml").read_text(encoding="utf-8")
        data = tomllib.loads(text)
        systems = data["systems"]
        return {
            kind: ConditionKind(
                kind=kind,
                display=body["display"],
                codes=tuple((systems[c["system"]], c["code"], bool(c["verified"])) for c in body["codes"]),
                ctcae_terms=tuple(body.get("ctcae_terms", ())),
            )
            for kind, body in data["kinds"].items()
        }
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise TerminologyError(f"packaged conditions.toml is invalid: {exc}") from exc


@cache
def _by_code() -> dict[tuple[str, str], str]:
    index = {}
    for kind in condition_kinds().values():
        for system, code, _ in kind.codes:
            index[(system, code.upper())] = kind.kind
            if system.endswith("icd-10-cm"):  # the WHO ICD-10 codes of these concepts are the same
                index[("http://hl7.org/fhir/sid/icd-10", code.upper())] = kind.kind
    return index


def kind_for_code(system: str | None, code: str | None) -> str | None:
    """The kind id of a coded diagnosis, or None."""
    if not system or not code:
        return None
    return _by_code().get((system, code.upper()))


@cache
def _by_term() -> dict[str, str]:
    return {normalise_term(t): k.kind for k in condition_kinds().values() for t in k.ctcae_terms}


def kind_for_term(term: str) -> str | None:
    """The kind id of a CTCAE term (e.g. "Stevens-Johnson syndrome" -> "sjs"), or None."""
    return _by_term().get(normalise_term(term))
