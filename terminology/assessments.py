"""Read performed exams and assessments (Procedure, DiagnosticReport, survey/exam Observations)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from terminology.fhir import as_map, as_str, codings, parse_datetime, reference_of
from terminology.model import Assessment

__all__ = ["has_assessment_category", "read_assessment"]

_DONE = {
    "Procedure": frozenset({"completed"}),
    "DiagnosticReport": frozenset({"final", "amended", "corrected", "appended", "preliminary"}),
    "Observation": frozenset({"final", "amended", "corrected", "preliminary"}),
}
_KINDS: dict[str, Literal["procedure", "diagnostic-report", "observation"]] = {
    "Procedure": "procedure",
    "DiagnosticReport": "diagnostic-report",
    "Observation": "observation",
}
# Observation categories that hold assessments rather than lab values.
_ASSESSMENT_CATEGORIES = frozenset({"survey", "exam", "procedure"})


def _moment(resource: Mapping[str, Any], *names: str) -> datetime | None:
    for name in names:
        value = resource.get(name)
        if isinstance(value, Mapping):
            found = parse_datetime(value.get("start")) or parse_datetime(value.get("end"))
        else:
            found = parse_datetime(value)
        if found is not None:
            return found
    return None


def has_assessment_category(observation: Mapping[str, Any]) -> bool:
    """True when a code of Observation.category (as `codings` reads it) is an assessment category.

    Asked of every Observation, nearly all of them labs: plain type checks, no generator.
    """
    categories = observation.get("category")
    if type(categories) is not list:
        return False
    for category in categories:
        concept = category if type(category) is dict else as_map(category)
        items = concept.get("coding") if "coding" in concept else [concept]
        if type(items) is not list:
            continue
        for coding in items:
            code = (coding if type(coding) is dict else as_map(coding)).get("code")
            if type(code) is str and code.strip() in _ASSESSMENT_CATEGORIES:
                return True
    return False


def read_assessment(resource: Mapping[str, Any]) -> Assessment | None:
    """The assessment a resource records, or None (not done, not an assessment, no date)."""
    kind = as_str(resource.get("resourceType")) or ""
    if kind == "Observation" and not has_assessment_category(resource):
        return None  # a lab value or a recorded grade, not an assessment
    if kind not in _KINDS or (as_str(resource.get("status")) or "") not in _DONE[kind]:
        return None
    if kind == "Procedure":
        effective = _moment(resource, "performedDateTime", "performedPeriod")
    else:
        effective = _moment(resource, "effectiveDateTime", "effectivePeriod", "issued")
    if effective is None:
        return None  # an exam with no date cannot satisfy a scheduled day
    concept = as_map(resource.get("code"))
    found = list(codings(concept))
    codes = tuple((system, code) for system, code, _ in found if system and code)
    texts = [t for t in (as_str(concept.get("text")),) if t]
    texts += [display for _, _, display in found if display]
    return Assessment(
        resource=reference_of(resource),
        kind=_KINDS[kind],
        effective=effective,
        codes=codes,
        texts=tuple(dict.fromkeys(texts)),
    )
