"""Graded adverse events, lab results, timelines and recognised orders: what terminology hands to cards."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

__all__ = [
    "Assessment",
    "CtcaeVersion",
    "Dose",
    "DrugIdentity",
    "DrugMatch",
    "EventSource",
    "Evidence",
    "Exclusion",
    "GradedEvent",
    "HistoryCondition",
    "LabResult",
    "MedicationOrder",
    "PatientFacts",
    "TermTimeline",
]

CtcaeVersion = Literal["5.0", "6.0"]

# Evidence, GradedEvent and LabResult are built once per lab value: thousands per hook call. A
# frozen dataclass's own __init__ sets each field with object.__setattr__, which costs about twice
# a slot's own setter, and building these three was a third of reading the labs. So they declare
# init=False and an __init__ that calls their slots' setters (`_setters`) in field order; repr,
# equality, hashing, frozenness and dataclasses.replace stay the dataclass's.
# tests/terminology/test_model.py checks each __init__ against the declared fields and defaults.


def _setters(cls: type) -> tuple[Callable[[object, Any], None], ...]:
    """The slot setters of a slotted dataclass, in field order."""
    return tuple(vars(cls)[f.name].__set__ for f in fields(cls))


class EventSource(StrEnum):
    """Where a graded event came from."""

    LAB = "lab"  # graded by toxhooks from a measured value
    OBSERVATION = "observation"  # grade recorded by a clinician on an Observation
    ADVERSE_EVENT = "adverse-event"  # grade recorded on an AdverseEvent
    CONDITION = "condition"  # a coded diagnosis (history, contraindication)


ReferenceKind = Literal["ULN", "LLN", "baseline", "absolute"]


@dataclass(frozen=True, slots=True, init=False)
class Evidence:
    """Why an event has its grade: the resource, the value as received and the rule row applied."""

    resource: str  # relative reference, e.g. "Observation/123"
    received: str | None = None  # value and unit exactly as received, e.g. "1250 U/L"
    value: float | None = None  # value converted to the analyte's canonical unit
    unit: str | None = None  # canonical unit of `value`
    reference_kind: ReferenceKind | None = None
    reference_value: float | None = None  # the ULN/LLN/baseline used, canonical unit
    reference_is_default: bool = False  # True when the range is toxhooks' default, not the lab's
    multiple: float | None = None  # value / reference_value
    rule_row: str | None = None  # e.g. "Grade 3: >5.0 - 10.0 x ULN"
    note: str | None = None  # e.g. "comparator '>' read conservatively"

    def __init__(
        self,
        resource: str,
        received: str | None = None,
        value: float | None = None,
        unit: str | None = None,
        reference_kind: ReferenceKind | None = None,
        reference_value: float | None = None,
        reference_is_default: bool = False,
        multiple: float | None = None,
        rule_row: str | None = None,
        note: str | None = None,
    ) -> None:
        s0, s1, s2, s3, s4, s5, s6, s7, s8, s9 = _EVIDENCE_SETTERS  # see _setters
        s0(self, resource)
        s1(self, received)
        s2(self, value)
        s3(self, unit)
        s4(self, reference_kind)
        s5(self, reference_value)
        s6(self, reference_is_default)
        s7(self, multiple)
        s8(self, rule_row)
        s9(self, note)


_EVIDENCE_SETTERS = _setters(Evidence)


@dataclass(frozen=True, slots=True, init=False)
class GradedEvent:
    """One CTCAE-graded observation of one term at one time."""

    term: str  # CTCAE term name in `ctcae_version`, e.g. "CPK increased"
    meddra_code: str | None
    grade: int  # 0 = assessed and within normal limits; 1..5 = CTCAE grade
    ctcae_version: str
    effective: datetime | None
    source: EventSource
    evidence: Evidence
    analyte: str | None = None  # lab analyte id for lab-derived events, e.g. "ck"
    suspect_drugs: tuple[str, ...] = ()  # drug ids (knowledge ids) named as suspect
    # Clinician-recorded qualifiers, e.g. ("symptomatic", True), ("suspected-scar", False).
    qualifiers: tuple[tuple[str, bool], ...] = ()

    def __init__(
        self,
        term: str,
        meddra_code: str | None,
        grade: int,
        ctcae_version: str,
        effective: datetime | None,
        source: EventSource,
        evidence: Evidence,
        analyte: str | None = None,
        suspect_drugs: tuple[str, ...] = (),
        qualifiers: tuple[tuple[str, bool], ...] = (),
    ) -> None:
        s0, s1, s2, s3, s4, s5, s6, s7, s8, s9 = _GRADED_EVENT_SETTERS  # see _setters
        s0(self, term)
        s1(self, meddra_code)
        s2(self, grade)
        s3(self, ctcae_version)
        s4(self, effective)
        s5(self, source)
        s6(self, evidence)
        s7(self, analyte)
        s8(self, suspect_drugs)
        s9(self, qualifiers)

    def qualifier(self, name: str) -> bool | None:
        """The recorded value of a qualifier, or None when it was not recorded."""
        for key, value in self.qualifiers:
            if key == name:
                return value
        return None


_GRADED_EVENT_SETTERS = _setters(GradedEvent)


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A resource that was read but not graded, and why (shown on cards as missing data)."""

    resource: str
    reason: str
    subject: str | None = None  # analyte or term it would have informed


@dataclass(frozen=True, slots=True, init=False)
class LabResult:
    """One usable lab value in canonical units with its reference range and baseline."""

    analyte: str  # e.g. "ck", "alt", "creatinine"
    resource: str
    effective: datetime | None
    value: float  # canonical unit
    unit: str  # canonical unit
    received: str  # as received
    uln: float | None = None
    lln: float | None = None
    range_is_default: bool = False
    baseline: float | None = None
    received_value: float | None = None  # the number as received (before conversion)
    received_unit: str | None = None  # the received unit, normalised to UCUM
    comparator: str | None = None  # "<", "<=", ">=", ">" when the value is a bound
    default_bounds: tuple[str, ...] = ()  # "LLN"/"ULN" taken from toxhooks' default range

    def __init__(
        self,
        analyte: str,
        resource: str,
        effective: datetime | None,
        value: float,
        unit: str,
        received: str,
        uln: float | None = None,
        lln: float | None = None,
        range_is_default: bool = False,
        baseline: float | None = None,
        received_value: float | None = None,
        received_unit: str | None = None,
        comparator: str | None = None,
        default_bounds: tuple[str, ...] = (),
    ) -> None:
        s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13 = _LAB_RESULT_SETTERS  # see _setters
        s0(self, analyte)
        s1(self, resource)
        s2(self, effective)
        s3(self, value)
        s4(self, unit)
        s5(self, received)
        s6(self, uln)
        s7(self, lln)
        s8(self, range_is_default)
        s9(self, baseline)
        s10(self, received_value)
        s11(self, received_unit)
        s12(self, comparator)
        s13(self, default_bounds)

    @property
    def x_uln(self) -> float | None:
        """Value as a multiple of the upper limit of normal."""
        return self.value / self.uln if self.uln else None

    @property
    def x_baseline(self) -> float | None:
        """Value as a multiple of baseline."""
        return self.value / self.baseline if self.baseline else None


_LAB_RESULT_SETTERS = _setters(LabResult)


@dataclass(frozen=True)
class TermTimeline:
    """All graded events of one CTCAE term, oldest first."""

    term: str
    events: tuple[GradedEvent, ...]

    @property
    def latest(self) -> GradedEvent | None:
        """The most recent event (events without a time sort first)."""
        return self.events[-1] if self.events else None

    @property
    def current_grade(self) -> int | None:
        """Grade of the most recent event."""
        return self.events[-1].grade if self.events else None

    @property
    def worst_grade(self) -> int | None:
        """Highest grade ever recorded."""
        return max((e.grade for e in self.events), default=None)

    def episodes(self, min_grade: int) -> int:
        """Number of separate runs of events at or above `min_grade`."""
        count, inside = 0, False
        for event in self.events:
            if event.grade >= min_grade and not inside:
                count += 1
            inside = event.grade >= min_grade
        return count

    def onset(self, min_grade: int = 1) -> datetime | None:
        """Start of the latest episode at or above `min_grade`."""
        start: datetime | None = None
        inside = False
        for event in self.events:
            if event.grade >= min_grade and not inside:
                start = event.effective
            inside = event.grade >= min_grade
        return start

    def resolved_to(self, max_grade: int, after_grade: int) -> datetime | None:
        """When the latest episode of grade >= `after_grade` came back to <= `max_grade`.

        None when there was no such episode or it has not resolved.
        """
        worst_seen = False
        resolved_at: datetime | None = None
        for event in self.events:
            if event.grade >= after_grade:
                worst_seen, resolved_at = True, None
            elif worst_seen and event.grade <= max_grade and resolved_at is None:
                resolved_at = event.effective or datetime.min
        return resolved_at if worst_seen else None


@dataclass(frozen=True, slots=True)
class DrugIdentity:
    """How to recognise one drug: knowledge id, codes and names (from the knowledge files)."""

    drug: str  # knowledge id, e.g. "alectinib"
    names: tuple[str, ...]  # generic and brand names, e.g. ("alectinib", "Alecensa")
    rxnorm: tuple[str, ...] = ()
    ndc: tuple[str, ...] = ()
    local_codes: tuple[tuple[str, str], ...] = ()  # (system, code)
    classes: tuple[str, ...] = ()  # e.g. ("alk-inhibitor",), ("immune-checkpoint-inhibitor",)
    # "therapy": a drug with its own knowledge file (its start date anchors baselines);
    # "co-medication": recognised only to inform rules (FOLFIRI parts, checkpoint inhibitors...).
    role: Literal["therapy", "co-medication"] = "therapy"


@dataclass(frozen=True, slots=True)
class DrugMatch:
    """A recognised drug and how it was recognised (so a card can say 'matched by name')."""

    drug: str
    match: Literal["rxnorm", "ndc", "name", "local"]
    code: str | None = None
    display: str | None = None


@dataclass(frozen=True, slots=True)
class Dose:
    """A structured dose read from dosageInstruction; `understood` is False when it could not be read."""

    understood: bool
    per_administration: float | None = None  # in `unit`
    unit: str | None = None  # UCUM, normally "mg"
    administrations_per_day: float | None = None
    daily: float | None = None  # per_administration * administrations_per_day
    text: str | None = None  # the sig or timing code as received
    problem: str | None = None  # why it was not understood
    # An order written as a count of units ("4 {pill}"): the count, the unit as received (code or
    # unit text), its form ("capsule", "tablet", "pill") and the mg strength of one unit used.
    count: float | None = None
    count_unit: str | None = None
    count_form: str | None = None
    strength_mg: float | None = None
    strength_source: str | None = None
    # An order with phases (a 90 mg lead-in, then 180 mg): the highest daily dose of the phase in
    # force and the phases after it (what the order will still reach); None for a single phase.
    highest_daily: float | None = None


@dataclass(frozen=True, slots=True)
class MedicationOrder:
    """A MedicationRequest (draft or on record) with its recognised drug and dose."""

    reference: str  # "MedicationRequest/103"
    resource: Mapping[str, Any]  # the JSON as received, for update/delete actions
    status: str | None
    intent: str | None
    drug: DrugMatch | None
    medication_text: str | None  # the drug as named in the order, for display
    dose: Dose
    authored_on: datetime | None = None
    start: datetime | None = None  # dosage timing bounds start or validity period start
    end: datetime | None = None
    is_draft: bool = False


@dataclass(frozen=True, slots=True)
class HistoryCondition:
    """A coded diagnosis of interest (e.g. SJS, TEN, DRESS) used as history or contraindication."""

    resource: str
    kind: str  # toxhooks concept id, e.g. "sjs", "ten", "dress", "drug-eruption", "aki"
    display: str
    onset: datetime | None = None
    codes: tuple[tuple[str, str], ...] = ()  # (system, code)
    active: bool = True
    suspect_drugs: tuple[str, ...] = ()
    # Clinician-recorded qualifiers on the diagnosis, e.g. ("other-cause-found", False).
    qualifiers: tuple[tuple[str, bool], ...] = ()
    terms: tuple[str, ...] = ()  # CTCAE terms of the same concept (a coded ILD: "Pneumonitis")


@dataclass(frozen=True, slots=True)
class Assessment:
    """A performed exam or assessment (Procedure, DiagnosticReport, survey/exam Observation)."""

    resource: str  # "Procedure/12"
    kind: Literal["procedure", "diagnostic-report", "observation"]
    effective: datetime | None
    codes: tuple[tuple[str, str], ...] = ()  # (system, code)
    texts: tuple[str, ...] = ()  # code text and displays, as received


@dataclass(frozen=True)
class PatientFacts:
    """Everything terminology learnt about one patient, ready for the rule engine."""

    ctcae_version: str
    timelines: Mapping[str, TermTimeline] = field(default_factory=dict)  # by CTCAE term name
    labs: Mapping[str, tuple[LabResult, ...]] = field(default_factory=dict)  # by analyte, oldest first
    conditions: tuple[HistoryCondition, ...] = ()
    medications: tuple[MedicationOrder, ...] = ()  # orders on record (not the drafts)
    exclusions: tuple[Exclusion, ...] = ()
    assessments: tuple[Assessment, ...] = ()  # exams and assessments performed, oldest first

    def timeline(self, term: str) -> TermTimeline | None:
        """The timeline of a CTCAE term, if any event of it was seen."""
        return self.timelines.get(term)

    def latest_lab(self, analyte: str) -> LabResult | None:
        """The most recent usable value of an analyte."""
        series = self.labs.get(analyte)
        return series[-1] if series else None
