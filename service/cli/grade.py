"""`toxhooks grade OBSERVATIONS.json` and `toxhooks terms --gradable`: CTCAE grading from the command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from terminology.ctcae import SUPPORTED_VERSIONS, get_table
from terminology.facts import build_facts
from terminology.model import DrugIdentity, Exclusion, GradedEvent, PatientFacts, TermTimeline
from terminology.thresholds import gradable_terms

__all__ = ["register"]


def _resources(document: Any) -> list[Mapping[str, Any]]:
    """The resources of a Bundle, a JSON array of resources, or a single resource."""
    if isinstance(document, list):
        return [r for r in document if isinstance(r, Mapping)]
    if isinstance(document, Mapping) and document.get("resourceType") == "Bundle":
        entries = document.get("entry")
        return [
            e["resource"]
            for e in (entries if isinstance(entries, list) else [])
            if isinstance(e, Mapping) and isinstance(e.get("resource"), Mapping)
        ]
    return [document] if isinstance(document, Mapping) else []


def _drugs() -> tuple[DrugIdentity, ...]:
    """Drug identities of the built-in knowledge (none, with a warning, when it cannot be loaded)."""
    try:
        from cards.loader import load_knowledge

        return tuple(load_knowledge().drug_identities())
    except Exception as exc:  # grading labs needs no drugs: say so and go on
        typer.echo(f"warning: knowledge not loaded ({exc}); drugs are not recognised", err=True)
        return ()


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _event_json(event: GradedEvent) -> dict[str, Any]:
    ev = event.evidence
    return {
        "term": event.term,
        "meddra_code": event.meddra_code,
        "grade": event.grade,
        "ctcae_version": event.ctcae_version,
        "effective": event.effective.isoformat() if event.effective else None,
        "source": event.source.value,
        "analyte": event.analyte,
        "suspect_drugs": list(event.suspect_drugs),
        "qualifiers": dict(event.qualifiers),
        "evidence": {
            "resource": ev.resource,
            "received": ev.received,
            "value": ev.value,
            "unit": ev.unit,
            "reference_kind": ev.reference_kind,
            "reference_value": ev.reference_value,
            "reference_is_default": ev.reference_is_default,
            "multiple": ev.multiple,
            "rule_row": ev.rule_row,
            "note": ev.note,
        },
    }


def _exclusion_json(item: Exclusion) -> dict[str, Any]:
    return {"resource": item.resource, "subject": item.subject, "reason": item.reason}


def _facts_json(facts: PatientFacts) -> dict[str, Any]:
    return {
        "ctcae_version": facts.ctcae_version,
        "timelines": {
            term: {
                "current_grade": tl.current_grade,
                "worst_grade": tl.worst_grade,
                "resolved": _resolved(tl),
                "onset": (o.isoformat() if (o := tl.onset()) else None),
                "events": [_event_json(e) for e in tl.events],
            }
            for term, tl in facts.timelines.items()
        },
        "conditions": [
            {"resource": c.resource, "kind": c.kind, "display": c.display, "active": c.active}
            for c in facts.conditions
        ],
        "medications": [
            {
                "reference": m.reference,
                "drug": m.drug.drug if m.drug else None,
                "match": m.drug.match if m.drug else None,
                "daily_dose": m.dose.daily,
                "dose_problem": m.dose.problem,
            }
            for m in facts.medications
        ],
        "exclusions": [_exclusion_json(x) for x in facts.exclusions],
    }


def _resolved(timeline: TermTimeline) -> str | None:
    """When an event of grade >= 1 came back to grade 0 (the latest point), as shown; else None."""
    latest = timeline.latest
    if latest is None or latest.grade != 0 or not timeline.worst_grade:
        return None
    return latest.effective.date().isoformat() if latest.effective else "(no date)"


def _print_table(facts: PatientFacts) -> None:
    echo = typer.echo
    echo(f"CTCAE v{facts.ctcae_version}")
    for term, timeline in facts.timelines.items():
        resolved = _resolved(timeline)
        over = f", resolved {resolved}" if resolved else ""
        echo(f"\n{term}: current grade {timeline.current_grade}, worst grade {timeline.worst_grade}{over}")
        for event in timeline.events:
            ev = event.evidence
            when = event.effective.isoformat() if event.effective else "(no time)"
            ref = ""
            if ev.reference_kind:
                default = " (default range)" if ev.reference_is_default else ""
                ref = f" {ev.reference_kind}={_num(ev.reference_value)}{default}"
            multiple = f" x{_num(ev.multiple)}" if ev.multiple is not None else ""
            converted = f" -> {_num(ev.value)} {ev.unit}" if ev.value is not None else ""
            echo(
                f"  {when}  grade {event.grade}  {ev.resource}  {ev.received or ''}{converted}{ref}{multiple}"
            )
            echo(f"      {ev.rule_row or ''}  [v{event.ctcae_version}, {event.source.value}]")
            if ev.note:
                echo(f"      note: {ev.note}")
            if event.suspect_drugs or event.qualifiers:
                qualifiers = ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in event.qualifiers)
                echo(
                    f"      suspect: {', '.join(event.suspect_drugs) or '-'}; qualifiers: {qualifiers or '-'}"
                )
    for condition in facts.conditions:
        echo(
            f"\nhistory: {condition.kind} ({condition.display}) {condition.resource}"
            f" active={condition.active}"
        )
    if facts.exclusions:
        echo(f"\nnot graded ({len(facts.exclusions)}):")
        for item in facts.exclusions:
            echo(f"  {item.resource}  {item.subject or ''}: {item.reason}")


def grade(
    file: Annotated[
        Path, typer.Argument(help="A FHIR Bundle (or array of resources) as JSON; '-' for stdin.")
    ],
    version: Annotated[
        str | None, typer.Option("--version", help="CTCAE version (default: TOXHOOKS_CTCAE_VERSION or 5.0).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    therapy_start: Annotated[
        datetime | None, typer.Option(help="Therapy start (ISO 8601) used to pick baselines.")
    ] = None,
) -> None:
    """Grade every Observation, AdverseEvent and Condition in FILE and print each event with its evidence."""
    if version is None:
        from service.settings import Settings

        version = Settings().ctcae_version
    if version not in SUPPORTED_VERSIONS:
        raise typer.BadParameter(f"--version must be one of {', '.join(SUPPORTED_VERSIONS)}")
    try:
        raw = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        document = json.loads(raw)
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"cannot read {file}: {exc}") from None
    start = therapy_start.replace(tzinfo=UTC) if therapy_start and not therapy_start.tzinfo else therapy_start
    facts = build_facts(_resources(document), ctcae_version=version, drugs=_drugs(), therapy_start=start)
    if as_json:
        typer.echo(json.dumps(_facts_json(facts), indent=2))
    else:
        _print_table(facts)


def terms(
    gradable: Annotated[
        bool, typer.Option("--gradable", help="Only terms graded from measured values.")
    ] = False,
    version: Annotated[str, typer.Option("--version", help="CTCAE version.")] = "5.0",
) -> None:
    """List CTCAE terms (with --gradable: the terms toxhooks grades from measured values) and the count."""
    if version not in SUPPORTED_VERSIONS:
        raise typer.BadParameter(f"--version must be one of {', '.join(SUPPORTED_VERSIONS)}")
    if gradable:
        items = gradable_terms(version)
        for item in items:
            typer.echo(f"{item.term}\tMedDRA {item.meddra_code}\t{', '.join(item.analytes)}")
        typer.echo(f"{len(items)} gradable terms in CTCAE v{version}")
        return
    table = get_table(version)
    for term in table.terms:
        typer.echo(f"{term.term}\tMedDRA {term.meddra_code}\t{term.soc}")
    typer.echo(f"{len(table)} terms in CTCAE v{version}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the CLI."""
    app.command("grade")(grade)
    app.command("terms")(terms)
