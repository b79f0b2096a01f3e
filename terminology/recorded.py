"""Clinician-recorded CTCAE grades: Observation, AdverseEvent, Condition -> GradedEvent, HistoryCondition."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from terminology.ctcae import CtcaeTerm, get_table, map_v5_to_v6
from terminology.diagnoses import condition_kinds, kind_for_code, kind_for_term
from terminology.fhir import as_float, as_list, as_map, as_str, codings, parse_datetime, reference_of
from terminology.labs import EXCLUDED_STATUSES, effective_of
from terminology.model import EventSource, Evidence, Exclusion, GradedEvent, HistoryCondition

__all__ = [
    "AE_GRADE_EXTENSION",
    "CTCAE_GRADE_EXTENSION",
    "CTCAE_GRADE_SYSTEM",
    "MDRAE_SYSTEM",
    "NCIT_GRADES",
    "QUALIFIERS",
    "QUALIFIER_EXTENSION",
    "QUALIFIER_SYSTEM",
    "DrugResolver",
    "read_adverse_event",
    "read_condition",
    "read_recorded_observation",
]

MDRAE_SYSTEM = "http://terminology.hl7.org/CodeSystem/MDRAE"
CTCAE_GRADE_EXTENSION = "http://hl7.org/fhir/us/ctcae/StructureDefinition/ctcae-grade"
# HL7 Adverse Event Clinical Research R4 Backport IG (STU1): grade as a CodeableConcept (NCIt grades).
AE_GRADE_EXTENSION = "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/ae-grade"
CTCAE_GRADE_SYSTEM = "http://hl7.org/fhir/us/ctcae/CodeSystem/ctcae-grade-code-system"
AE_SEVERITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
QUALIFIER_SYSTEM = "https://toxhooks.org/fhir/CodeSystem/event-qualifier"
QUALIFIER_EXTENSION = "https://toxhooks.org/fhir/StructureDefinition/event-qualifier"
# NCIt concept codes of CTCAE grades 1-4 (clinical-knowledge.md; the grade 5 code is not confirmed).
NCIT_GRADES = {"C41338": 1, "C41339": 2, "C41340": 3, "C41337": 4}
# CTCAE defines grades 1-3 as mild, moderate and severe (CTCAE v5.0, "Grades").
_SEVERITY = {"mild": 1, "moderate": 2, "severe": 3}
QUALIFIERS = frozenset(
    {
        "symptomatic",
        "suspected-scar",
        "life-threatening",
        "cholestasis",
        "hemolysis",
        "other-cause-found",
        "contributing-drug-stopped",
        "on-optimal-antihypertensive-therapy",
    }
)
_GRADE_TEXT = re.compile(r"^\s*(?:ctcae\s*)?grade\s*([0-5])\s*$", re.IGNORECASE)

# Maps a Reference (suspectEntity.instance, focus) to a knowledge drug id, or None.
DrugResolver = Callable[[Mapping[str, Any]], "str | None"]


def _term(concept: Any, version: str) -> tuple[CtcaeTerm | None, str | None]:
    """The CTCAE term of a code in `version` and a note on how it was found (v5 -> v6 mapping)."""
    table = get_table(version)
    texts: list[str] = []
    for system, code, display in codings(concept):
        if system == MDRAE_SYSTEM and code:
            found = table.lookup(code)
            if found:
                return found, None
            texts.append(code)
        kind = kind_for_code(system, code)
        if kind:
            texts.extend(condition_kinds()[kind].ctcae_terms)
        if display:
            texts.append(display)
    text = as_str(as_map(concept).get("text"))
    if text:
        texts.append(text)
    for candidate in texts:
        found = table.lookup(candidate)
        if found:
            return found, None
    if version == "6.0":
        for candidate in texts:
            mapped = map_v5_to_v6(candidate)
            target = table.lookup(mapped[0]) if len(mapped) == 1 else None
            old = get_table("5.0").lookup(candidate)
            if target is not None and old is not None and target.term.endswith("Other, specify"):
                # A catch-all would lose what was recorded: keep the v5.0 term (rules name it).
                why = f"v6.0 has no term of its own (NCI maps it to {target.term!r})"
                return old, f"v5.0 term {old.term!r} kept: {why}"
            if target is not None and old is not None:
                return target, f"v5.0 term {old.term!r} reported in v6.0 terms (NCI mapping)"
    return None, None


def _grade_from_concept(concept: Any) -> int | None:
    for system, code, display in codings(concept):
        if code in NCIT_GRADES:
            return NCIT_GRADES[code]
        if system == CTCAE_GRADE_SYSTEM and code and code.isdigit() and 0 <= int(code) <= 5:
            return int(code)
        if system == AE_SEVERITY_SYSTEM and code in _SEVERITY:
            return _SEVERITY[code]
        for text in (display, code):
            match = _GRADE_TEXT.match(text or "")
            if match:
                return int(match.group(1))
    match = _GRADE_TEXT.match(as_str(as_map(concept).get("text")) or "")
    return int(match.group(1)) if match else None


def _integer_grade(value: Any) -> int | None:
    number = as_float(value)
    return int(number) if number is not None and number.is_integer() and 0 <= number <= 5 else None


def _grade(resource: Mapping[str, Any]) -> tuple[int | None, str]:
    """The recorded grade and where it was read from."""
    for ext in as_list(resource.get("extension")):
        ext = as_map(ext)
        if ext.get("url") == CTCAE_GRADE_EXTENSION:
            grade = _integer_grade(ext.get("valueInteger"))
            if grade is None:
                grade = _grade_from_concept(ext.get("valueCodeableConcept") or ext.get("valueCoding"))
            if grade is not None:
                return grade, "ctcae-grade extension"
        if ext.get("url") == AE_GRADE_EXTENSION:
            grade = _grade_from_concept(ext.get("valueCodeableConcept") or ext.get("valueCoding"))
            if grade is None:
                grade = _integer_grade(ext.get("valueInteger"))
            if grade is not None:
                return grade, "ae-grade extension"
    if "valueInteger" in resource:
        return _integer_grade(resource.get("valueInteger")), "valueInteger"
    if "valueCodeableConcept" in resource:
        return _grade_from_concept(resource.get("valueCodeableConcept")), "valueCodeableConcept"
    if "severity" in resource:
        return _grade_from_concept(resource.get("severity")), "severity"
    return None, "no grade"


def _qualifiers(resource: Mapping[str, Any]) -> tuple[tuple[str, bool], ...]:
    """Qualifiers from components (Observation) and the event-qualifier extension (any resource)."""
    found: dict[str, bool] = {}
    for component in as_list(resource.get("component")):
        component = as_map(component)
        value = component.get("valueBoolean")
        if not isinstance(value, bool):
            continue
        for system, code, _ in codings(component.get("code")):
            if code in QUALIFIERS and system in (QUALIFIER_SYSTEM, None):
                found[code] = value
    for ext in as_list(resource.get("extension")):
        ext = as_map(ext)
        if ext.get("url") != QUALIFIER_EXTENSION:
            continue
        parts = {as_str(as_map(p).get("url")): as_map(p) for p in as_list(ext.get("extension"))}
        name = as_str(parts.get("name", {}).get("valueCode"))
        value = parts.get("value", {}).get("valueBoolean")
        if name in QUALIFIERS and isinstance(value, bool):
            found[name] = value
    return tuple(sorted(found.items()))


def _event(
    resource: Mapping[str, Any],
    term: CtcaeTerm,
    grade: int,
    version: str,
    source: EventSource,
    how: str,
    note: str | None,
    suspects: tuple[str, ...] = (),
    effective: datetime | None = None,
) -> GradedEvent:
    return GradedEvent(
        term=term.term,
        meddra_code=term.meddra_code,
        grade=grade,
        ctcae_version=version,
        effective=effective,
        source=source,
        evidence=Evidence(
            resource=reference_of(resource),
            received=f"grade {grade} ({how})",
            rule_row=f"Grade {grade}: {term.grade_text(grade)}" if grade else "Grade 0: recorded as absent",
            note=note,
        ),
        suspect_drugs=suspects,
        qualifiers=_qualifiers(resource),
    )


def read_recorded_observation(resource: Mapping[str, Any], version: str) -> GradedEvent | Exclusion | None:
    """An Observation coded with a CTCAE term carrying a grade; None when its code is no CTCAE term."""
    term, note = _term(resource.get("code"), version)
    if term is None:
        return None
    ref = reference_of(resource)
    status = as_str(resource.get("status"))
    if status in EXCLUDED_STATUSES:
        return Exclusion(ref, f"status {status}", term.term)
    if resource.get("dataAbsentReason") is not None:
        return Exclusion(ref, "no grade (dataAbsentReason)", term.term)
    grade, how = _grade(resource)
    if grade is None:
        return Exclusion(ref, f"no readable CTCAE grade ({how})", term.term)
    moment = effective_of(resource)
    return _event(resource, term, grade, version, EventSource.OBSERVATION, how, note, effective=moment)


def read_adverse_event(
    resource: Mapping[str, Any], version: str, resolve: DrugResolver | None = None
) -> GradedEvent | Exclusion | None:
    """An R4 AdverseEvent whose event is a CTCAE term (MDRAE, or SNOMED of a known diagnosis)."""
    term, note = _term(resource.get("event"), version)
    if term is None:
        return None
    ref = reference_of(resource)
    if as_str(resource.get("actuality")) == "potential":
        return Exclusion(ref, "actuality potential (did not happen)", term.term)
    grade, how = _grade(resource)
    if grade is None:
        return Exclusion(ref, f"no readable CTCAE grade ({how})", term.term)
    suspects: list[str] = []
    for entity in as_list(resource.get("suspectEntity")):
        drug = resolve(as_map(as_map(entity).get("instance"))) if resolve else None
        if drug and drug not in suspects:
            suspects.append(drug)
    moment = parse_datetime(resource.get("date")) or parse_datetime(resource.get("detected"))
    moment = moment or parse_datetime(resource.get("recordedDate"))
    source = EventSource.ADVERSE_EVENT
    return _event(resource, term, grade, version, source, how, note, tuple(suspects), moment)


_INACTIVE = {"inactive", "remission", "resolved"}
_REFUTED = {"entered-in-error", "refuted"}


def _abated(resource: Mapping[str, Any], clinical: str | None) -> bool:
    """An abatement is recorded (and the status does not say the condition came back)."""
    if clinical in ("active", "recurrence", "relapse"):
        return False
    # abatementBoolean false (DSTU2 style, still sent) says the condition has not abated.
    return any(
        key.startswith("abatement") and value not in (None, False, "", {}) for key, value in resource.items()
    )


def read_condition(
    resource: Mapping[str, Any], version: str
) -> tuple[HistoryCondition | None, GradedEvent | None, Exclusion | None]:
    """A Condition as history (known diagnosis kind) and, when graded, as a graded event."""
    ref = reference_of(resource)
    codes = [(s, c) for s, c, _ in codings(resource.get("code")) if s and c]
    kind = next((k for k in (kind_for_code(s, c) for s, c in codes) if k), None)
    term, note = _term(resource.get("code"), version)
    if kind is None and term is not None:
        kind = kind_for_term(term.term)
    if kind is None and term is None:
        return None, None, None
    verification = next((c for _, c, _ in codings(resource.get("verificationStatus")) if c), None)
    if verification in _REFUTED:
        subject = kind or (term.term if term else None)
        return None, None, Exclusion(ref, f"verificationStatus {verification}", subject)
    clinical = next((c for _, c, _ in codings(resource.get("clinicalStatus")) if c), None)
    onset = parse_datetime(resource.get("onsetDateTime")) or parse_datetime(
        as_map(resource.get("onsetPeriod")).get("start")
    )
    onset = onset or parse_datetime(resource.get("recordedDate"))  # no onset: when it was recorded
    history = None
    if kind is not None:
        display = as_str(as_map(resource.get("code")).get("text")) or condition_kinds()[kind].display
        history = HistoryCondition(
            resource=ref,
            kind=kind,
            display=display,
            onset=onset,
            codes=tuple(codes),
            active=clinical not in _INACTIVE and not _abated(resource, clinical),
            qualifiers=_qualifiers(resource),
            terms=condition_kinds()[kind].ctcae_terms,
        )
    event = None
    if term is not None:
        grade, how = _grade(resource)
        if grade is not None:
            event = _event(resource, term, grade, version, EventSource.CONDITION, how, note, effective=onset)
    return history, event, None
