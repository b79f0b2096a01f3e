"""Recognise knowledge-base drugs in medication codes and names (RxNorm, NDC, local codes, then names)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Literal

from terminology.model import DrugIdentity, DrugMatch

__all__ = ["NDC_SYSTEM", "RXNORM_SYSTEM", "match_drug", "normalise_name"]

RXNORM_SYSTEM = "http://www.nlm.nih.gov/research/umls/rxnorm"
NDC_SYSTEM = "http://hl7.org/fhir/sid/ndc"
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def normalise_name(text: str) -> str:
    """Lower-case words separated by single spaces, padded so whole-word search is a substring test."""
    return f" {_NON_ALNUM.sub(' ', text.lower()).strip()} "


def _ndc_matches(code: str, known: str) -> bool:
    # A product NDC (labeler-product, "71779-623") also matches its packages ("71779-623-01").
    return code == known or code.startswith(known + "-")


def match_drug(
    codes: Iterable[tuple[str | None, str | None, str | None]],
    texts: Iterable[str],
    drugs: Sequence[DrugIdentity],
) -> DrugMatch | None:
    """The first drug recognised: by RxNorm, NDC or local code (any drug), else by a whole-word name."""
    coded = [(s, c, d) for s, c, d in codes if c]
    kinds: tuple[Literal["rxnorm", "ndc", "local"], ...] = ("rxnorm", "ndc", "local")
    for kind in kinds:
        for system, code, display in coded:
            assert code is not None
            for drug in drugs:
                hit = (
                    (kind == "rxnorm" and system == RXNORM_SYSTEM and code in drug.rxnorm)
                    or (
                        kind == "ndc"
                        and system == NDC_SYSTEM
                        and any(_ndc_matches(code, n) for n in drug.ndc)
                    )
                    or (kind == "local" and (system, code) in drug.local_codes)
                )
                if hit:
                    return DrugMatch(drug=drug.drug, match=kind, code=code, display=display)
    names = [t for t in texts if t] + [d for _, _, d in coded if d]
    for text in names:
        haystack = normalise_name(text)
        for drug in drugs:
            if any(normalise_name(n) in haystack for n in drug.names if n.strip()):
                return DrugMatch(drug=drug.drug, match="name", code=None, display=text)
    return None
