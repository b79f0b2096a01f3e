"""Lab time series and recorded adverse-event markers for the timeline page, from PatientFacts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cards.logic import multiple_number
from service.views.bands import GradeBand, uln_bands
from terminology.model import EventSource, GradedEvent, LabResult, PatientFacts

__all__ = [
    "ANALYTE_LABELS",
    "EventMarker",
    "LabPoint",
    "LabSeries",
    "event_markers",
    "lab_series",
]

# Display names and the CTCAE term that grades each analyte (term names of CTCAE v5.0; when
# terminology graded a value, the term on its event wins). Names only: no thresholds here.
ANALYTE_LABELS: dict[str, tuple[str, str | None]] = {
    "ck": ("CPK (creatine kinase)", "CPK increased"),
    "alt": ("ALT", "Alanine aminotransferase increased"),
    "ast": ("AST", "Aspartate aminotransferase increased"),
    "bilirubin": ("Total bilirubin", "Blood bilirubin increased"),
    "creatinine": ("Creatinine", "Creatinine increased"),
    "alp": ("Alkaline phosphatase", "Alkaline phosphatase increased"),
    "ggt": ("GGT", "GGT increased"),
    "lipase": ("Lipase", "Lipase increased"),
    "amylase": ("Amylase", "Serum amylase increased"),
}
# The order analytes are drawn in: the ones the issue names first, then alphabetical.
_ORDER = ("ck", "alt", "ast", "bilirubin", "creatinine", "alp", "ggt", "lipase", "amylase")

GradeTexts = Callable[[str], Sequence[str] | None]


@dataclass(frozen=True, slots=True)
class LabPoint:
    """One lab value on the chart."""

    time: datetime
    value: float
    unit: str
    received: str
    x_uln: float | None
    x_uln_shown: str | None  # for display, never rounded across a threshold ("> 10.0")
    uln: float | None
    range_is_default: bool
    grade: int | None  # CTCAE grade terminology gave this value, if any
    resource: str


@dataclass(frozen=True, slots=True)
class LabSeries:
    """All values of one analyte with the grade bands of its CTCAE term."""

    analyte: str
    label: str
    unit: str
    term: str | None
    points: tuple[LabPoint, ...]
    bands: tuple[GradeBand, ...]
    undated: int  # values without a time, left out of the chart


@dataclass(frozen=True, slots=True)
class EventMarker:
    """A clinician-recorded adverse event (not lab-derived) at a point in time."""

    time: datetime
    term: str
    grade: int
    source: str
    resource: str
    suspect_drugs: tuple[str, ...]


def _lab_events(facts: PatientFacts) -> dict[str, GradedEvent]:
    """Lab-derived graded events by the resource they were graded from."""
    events: dict[str, GradedEvent] = {}
    for timeline in facts.timelines.values():
        for event in timeline.events:
            if event.source is EventSource.LAB:
                events[event.evidence.resource] = event
    return events


def _point(lab: LabResult, event: GradedEvent | None) -> LabPoint | None:
    """A chart point, or None for a value without a time."""
    if lab.effective is None:
        return None
    return LabPoint(
        time=lab.effective,
        value=lab.value,
        unit=lab.unit,
        received=lab.received,
        x_uln=lab.x_uln,
        x_uln_shown=multiple_number(lab.value, lab.uln) or None,
        uln=lab.uln,
        range_is_default=lab.range_is_default,
        grade=event.grade if event is not None else None,
        resource=lab.resource,
    )


def lab_series(facts: PatientFacts, grade_texts: GradeTexts) -> tuple[LabSeries, ...]:
    """One series per analyte with values, oldest first; bands from `grade_texts(term)`."""
    events = _lab_events(facts)
    ranked = sorted(facts.labs, key=lambda a: (_ORDER.index(a) if a in _ORDER else len(_ORDER), a))
    result: list[LabSeries] = []
    for analyte in ranked:
        labs = facts.labs[analyte]
        if not labs:
            continue
        label, term = ANALYTE_LABELS.get(analyte, (analyte, None))
        graded_terms = [events[lab.resource].term for lab in labs if lab.resource in events]
        if graded_terms:
            term = graded_terms[-1]
        texts = grade_texts(term) if term else None
        points = [_point(lab, events.get(lab.resource)) for lab in labs]
        dated = sorted((p for p in points if p is not None), key=lambda p: p.time)
        result.append(
            LabSeries(
                analyte=analyte,
                label=label,
                unit=labs[-1].unit,
                term=term,
                points=tuple(dated),
                bands=uln_bands(texts) if texts else (),
                undated=len(points) - len(dated),
            )
        )
    return tuple(result)


def event_markers(facts: PatientFacts) -> tuple[EventMarker, ...]:
    """Recorded (clinician-graded) adverse events with a time, oldest first."""
    markers = [
        EventMarker(
            time=event.effective,
            term=event.term,
            grade=event.grade,
            source=event.source.value,
            resource=event.evidence.resource,
            suspect_drugs=event.suspect_drugs,
        )
        for timeline in facts.timelines.values()
        for event in timeline.events
        if event.source is not EventSource.LAB and event.effective is not None
    ]
    return tuple(sorted(markers, key=lambda m: (m.time, m.term)))
