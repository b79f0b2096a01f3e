"""Build PatientFacts from a patient's FHIR resources: graded labs, recorded events, history and orders."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from terminology.assessments import has_assessment_category, read_assessment
from terminology.ctcae import get_table
from terminology.drugs import match_drug
from terminology.fhir import as_list, as_map, as_str, codings
from terminology.grading import grade_lab
from terminology.kidney import aki_from_creatinine
from terminology.labs import read_lab
from terminology.model import (
    Assessment,
    DrugIdentity,
    Exclusion,
    GradedEvent,
    HistoryCondition,
    LabResult,
    MedicationOrder,
    PatientFacts,
)
from terminology.orders import medication_concepts, read_order
from terminology.recorded import read_adverse_event, read_condition, read_recorded_observation
from terminology.resolution import adverse_event_resolution, condition_resolution
from terminology.thresholds import rules_for_analyte
from terminology.timeline import build_timelines

__all__ = ["build_facts", "therapy_start_of"]

_INACTIVE_ORDERS = {"entered-in-error", "cancelled", "draft"}
_EARLIEST = datetime.min.replace(tzinfo=UTC)


def therapy_start_of(orders: Iterable[MedicationOrder], drugs: Sequence[DrugIdentity]) -> datetime | None:
    """Earliest start (else authoredOn) of a recognised order of a drug with role "therapy"."""
    therapy = {d.drug for d in drugs if d.role == "therapy"}
    starts = [
        order.start or order.authored_on
        for order in orders
        if order.drug and order.drug.drug in therapy and order.status not in _INACTIVE_ORDERS
    ]
    return min((s for s in starts if s is not None), default=None)


def _with_baselines(
    series: list[LabResult], start: datetime | None, explicit: float | None
) -> list[LabResult]:
    """Attach the baseline (explicit, else the last value before `start`) to values from `start` on."""
    baseline = explicit
    if baseline is None and start is not None:
        before = [lab for lab in series if lab.effective is not None and lab.effective < start]
        baseline = before[-1].value if before else None
    if baseline is None:
        return series
    return [
        dataclasses.replace(lab, baseline=baseline)
        if start is None or (lab.effective is not None and lab.effective >= start)
        else lab
        for lab in series
    ]


def _flatten(resources: Iterable[Any], depth: int = 0) -> list[Mapping[str, Any]]:
    """Every resource, with Bundles (e.g. a search result passed as is) opened up to 3 levels deep."""
    flat: list[Mapping[str, Any]] = []
    for raw in resources:
        resource = raw if type(raw) is dict else as_map(raw)
        if resource.get("resourceType") == "Bundle":
            if depth < 3:
                entries = as_list(resource.get("entry"))
                flat += _flatten((as_map(e).get("resource") for e in entries), depth + 1)
            continue
        flat.append(resource)
    return flat


class _DrugResolver:
    """Resolves suspectEntity references to drug ids using orders and Medications on record."""

    def __init__(
        self,
        drugs: Sequence[DrugIdentity],
        orders: Mapping[str, MedicationOrder],
        medications: Mapping[str, Mapping[str, Any]],
    ) -> None:
        self.drugs, self.orders, self.medications = drugs, orders, medications

    def __call__(self, reference: Mapping[str, Any]) -> str | None:
        target = as_str(reference.get("reference")) or ""
        order = self.orders.get(target)
        if order is not None:
            return order.drug.drug if order.drug else None
        texts = [t for t in (as_str(reference.get("display")),) if t]
        medication = self.medications.get(target)
        if medication is not None:
            concepts, names = medication_concepts(
                {"medicationReference": {"reference": target}}, self.medications
            )
            match = match_drug([c for cc in concepts for c in codings(cc)], names + texts, self.drugs)
        else:
            match = match_drug([], texts, self.drugs)
        return match.drug if match else None


def build_facts(
    resources: Iterable[Mapping[str, Any]],
    *,
    ctcae_version: str = "5.0",
    drugs: Sequence[DrugIdentity] = (),
    medications: Mapping[str, Mapping[str, Any]] | None = None,
    therapy_start: datetime | None = None,
    baselines: Mapping[str, float] | None = None,
    now: datetime | None = None,
) -> PatientFacts:
    """Grade Observations, read AdverseEvents/Conditions and orders on record into PatientFacts.

    `resources` is every FHIR resource of the patient that the service gathered (prefetch and
    fetched, de-duplicated, drafts excluded); unknown types are ignored. `medications` maps
    "Medication/<id>" to Medication resources for MedicationRequest.medicationReference.
    `therapy_start` overrides the start used to pick baselines; `baselines` gives explicit
    baselines by analyte id in the analyte's canonical unit. `now` picks the dosage line in force
    of orders with phases (a lead-in, then the continuing dose); without it, their first line.
    """
    get_table(ctcae_version)  # fail fast on an unsupported version
    meds: dict[str, Mapping[str, Any]] = dict(medications or {})
    by_type: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}  # type -> (reference, resource)
    seen: set[str] = set()
    for resource in _flatten(resources):
        kind = as_str(resource.get("resourceType"))
        if kind is None:
            continue
        ref = f"{kind}/{as_str(resource.get('id')) or '?'}"  # reference_of, with the kind read once
        if resource.get("id") is not None:
            if ref in seen:
                continue
            seen.add(ref)
        if kind == "Medication":
            meds.setdefault(ref, resource)
        by_type.setdefault(kind, []).append((ref, resource))

    orders = tuple(
        read_order(r, drugs=drugs, medications=meds, now=now) for _, r in by_type.get("MedicationRequest", ())
    )
    start = therapy_start or therapy_start_of(orders, drugs)

    events: list[GradedEvent] = []
    exclusions: list[Exclusion] = []
    series: dict[str, list[LabResult]] = {}
    observed: list[Assessment] = []  # survey and exam Observations
    for ref, resource in by_type.get("Observation", ()):
        if has_assessment_category(resource) and (found := read_assessment(resource)) is not None:
            observed.append(found)
        readings = read_lab(resource, ref)
        if not readings:
            recorded = read_recorded_observation(resource, ctcae_version)
            if isinstance(recorded, GradedEvent):
                events.append(recorded)
            elif recorded is not None:
                exclusions.append(recorded)
            continue
        for reading in readings:
            if isinstance(reading, LabResult):
                series.setdefault(reading.analyte, []).append(reading)
            else:
                exclusions.append(reading)

    labs: dict[str, tuple[LabResult, ...]] = {}
    for analyte, items in sorted(series.items()):
        items.sort(key=lambda lab: lab.effective or _EARLIEST)
        explicit = (baselines or {}).get(analyte)
        graded = _with_baselines(items, start, explicit)
        labs[analyte] = tuple(graded)
        rules = rules_for_analyte(ctcae_version, analyte)
        for lab in graded:
            for rule in rules:
                graded_or_not = grade_lab(lab, rule, ctcae_version)
                if isinstance(graded_or_not, GradedEvent):
                    events.append(graded_or_not)
                else:
                    exclusions.append(graded_or_not)

    resolver = _DrugResolver(drugs, {o.reference: o for o in orders}, meds)
    for _, resource in by_type.get("AdverseEvent", ()):
        outcome = read_adverse_event(resource, ctcae_version, resolver)
        if isinstance(outcome, GradedEvent):
            events.append(outcome)
            resolved = adverse_event_resolution(resource, outcome)
            if resolved is not None:
                events.append(resolved)
        elif outcome is not None:
            exclusions.append(outcome)

    conditions: list[HistoryCondition] = []
    for _, resource in by_type.get("Condition", ()):
        history, event, excluded = read_condition(resource, ctcae_version)
        if history:
            conditions.append(history)
        if event:
            events.append(event)
            resolved = condition_resolution(resource, event)
            if resolved is not None:
                events.append(resolved)
        if excluded:
            exclusions.append(excluded)

    aki = aki_from_creatinine(labs.get("creatinine", ()))
    if aki is not None:
        conditions.append(aki)

    assessments = [
        found
        for kind in ("Procedure", "DiagnosticReport")
        for _, resource in by_type.get(kind, ())
        if (found := read_assessment(resource)) is not None
    ]
    assessments += observed
    assessments.sort(key=lambda a: a.effective or _EARLIEST)
    return PatientFacts(
        ctcae_version=ctcae_version,
        timelines=build_timelines(events),
        labs=labs,
        conditions=tuple(conditions),
        medications=orders,
        exclusions=tuple(exclusions),
        assessments=tuple(assessments),
    )
