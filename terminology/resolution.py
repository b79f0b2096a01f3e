"""Resolution of a recorded event: AdverseEvent outcome / resolve-date, Condition abatement and status.

A resolution becomes a grade 0 point in the event's timeline at the resolution date, so the
"resolved" and "later lower grade" logic sees it. Its evidence says where it was read, e.g.
"AdverseEvent/ae1 outcome resolved, resolve-date 2026-03-06".

When the record says the event is over but gives no date, the resolution is still read (the
clinician recorded it) and dated at the earliest moment the record supports: the event's own
date. That is the conservative reading: the drug is taken to have been interrupted since then
(an interruption resets tolerance sooner, never later), and a point that old is re-assessed
rather than treated as current. The evidence says the date was not recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from terminology.fhir import as_list, as_map, as_str, codings, parse_datetime
from terminology.model import Evidence, GradedEvent

__all__ = [
    "AE_OUTCOME_SYSTEM",
    "RESOLVED_OUTCOMES",
    "RESOLVE_DATE_EXTENSION",
    "adverse_event_resolution",
    "condition_resolution",
]

AE_OUTCOME_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-outcome"
RESOLVE_DATE_EXTENSION = "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/resolve-date"
# FHIR R4 adverse-event-outcome codes that mean the event is over (recovering/ongoing/fatal/unknown
# do not).
RESOLVED_OUTCOMES = frozenset({"resolved", "resolvedWithSequelae"})
_NOT_OVER = frozenset({"recovering", "ongoing", "fatal", "unknown"})
_CONDITION_OVER = frozenset({"resolved", "inactive", "remission"})
# Condition.abatement[x] choices that say the condition is over without a date.
_UNDATED = ("abatementString", "abatementAge", "abatementRange")


def _point(event: GradedEvent, when: datetime | None, received: str, dated: bool) -> GradedEvent:
    note = None if dated else "resolution date not recorded: dated at the event itself (conservative)"
    return replace(
        event,
        grade=0,
        effective=when,
        evidence=Evidence(
            resource=event.evidence.resource,
            received=received,
            rule_row="Grade 0: resolved",
            note=note,
        ),
        qualifiers=(),
    )


def _resolve_date(resource: Mapping[str, Any]) -> tuple[datetime | None, str | None]:
    for ext in as_list(resource.get("extension")):
        ext = as_map(ext)
        if ext.get("url") == RESOLVE_DATE_EXTENSION:
            raw = as_str(ext.get("valueDateTime")) or as_str(ext.get("valueDate"))
            moment = parse_datetime(raw)
            if moment is not None:
                return moment, raw
    return None, None


def _outcome(concept: Any) -> str | None:
    """The adverse-event-outcome code; other systems and text read by their words.

    Reports often carry the ICH E2B wording ("recovered/resolved", "recovering/resolving",
    "not recovered/not resolved", "recovered/resolved with sequelae", "fatal").
    """
    words: list[str] = []
    for system, code, display in codings(concept):
        if code and system in (AE_OUTCOME_SYSTEM, None) and (code in RESOLVED_OUTCOMES or code in _NOT_OVER):
            return code
        words += [w for w in (display, code) if w]
    text = as_str(as_map(concept).get("text"))
    if text:
        words.append(text)
    for word in (w.strip().lower() for w in words):
        if word.startswith(("not ", "recovering", "resolving", "ongoing", "unknown", "fatal")):
            return "ongoing"
        if word.startswith(("recovered", "resolved")):
            return "resolvedWithSequelae" if "sequelae" in word else "resolved"
    return None


def adverse_event_resolution(resource: Mapping[str, Any], event: GradedEvent) -> GradedEvent | None:
    """A grade 0 point when the AdverseEvent's outcome is resolved or it carries a resolve-date."""
    outcome = _outcome(resource.get("outcome"))
    when, raw = _resolve_date(resource)
    if outcome not in RESOLVED_OUTCOMES and when is None:
        return None
    if outcome is not None and outcome not in RESOLVED_OUTCOMES:
        return None  # "ongoing"/"recovering" wins over a stray date: not over yet
    read = f"resolved: outcome {outcome}" if outcome else "resolved"
    if raw:
        return _point(event, when, f"{read}, resolve-date {raw}", True)
    return _point(event, event.effective, f"{read}, resolve-date not recorded (dated at the event)", False)


def condition_resolution(resource: Mapping[str, Any], event: GradedEvent) -> GradedEvent | None:
    """A grade 0 point when the Condition has an abatement[x] or a resolved/inactive/remission status."""
    status = next((c for _, c, _ in codings(resource.get("clinicalStatus")) if c), None)
    raw = as_str(resource.get("abatementDateTime"))
    period = as_map(resource.get("abatementPeriod"))
    raw = raw or as_str(period.get("end")) or as_str(period.get("start"))
    when = parse_datetime(raw)
    # abatementString/Age/Range say it is over without a date; abatementBoolean (DSTU2, still sent
    # by some EHRs) true says the same, false says it is not.
    undated = next((k for k in _UNDATED if resource.get(k)), None)
    if resource.get("abatementBoolean") is True:
        undated = "abatementBoolean true"
    over = status in _CONDITION_OVER or when is not None or undated is not None
    if not over or status in ("active", "recurrence", "relapse") or resource.get("abatementBoolean") is False:
        return None
    read = f"resolved: clinicalStatus {status}" if status else "resolved"
    if undated is not None and when is None:
        read += f", {undated}"
    if when is not None and raw:
        return _point(event, when, f"{read}, abatement {raw}", True)
    return _point(event, event.effective, f"{read}, abatement date not recorded (dated at onset)", False)
