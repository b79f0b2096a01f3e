"""What one rule evaluation sees: the request, the drug under consideration and lookups built once."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cards.model import EvaluationRequest
from terminology.model import GradedEvent, MedicationOrder, TermTimeline

__all__ = ["Context", "Outcome", "Row", "Subject", "align", "fmt_date"]


def align(moment: datetime, like: datetime) -> datetime:
    """`moment` made comparable with `like`: a naive time is read in `like`'s zone (and vice versa)."""
    if moment.tzinfo is None and like.tzinfo is not None:
        return moment.replace(tzinfo=like.tzinfo)
    if moment.tzinfo is not None and like.tzinfo is None:
        return moment.replace(tzinfo=None)
    return moment


def fmt_date(moment: datetime | None) -> str:
    """A date for cards (ISO, day precision); '?' when unknown."""
    return moment.date().isoformat() if moment else "?"


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a card's evidence table."""

    observation: str
    value: str
    multiple: str = ""
    term: str = ""
    grade: int | None = None
    version: str = ""
    date: str = ""


@dataclass(frozen=True, slots=True)
class Outcome:
    """Three-valued result of a condition: True, False or None (could not be decided)."""

    value: bool | None
    rows: tuple[Row, ...] = ()
    missing: tuple[str, ...] = ()  # data that was not available
    checks: tuple[str, ...] = ()  # qualifiers nobody recorded: what the clinician must check
    grades: tuple[int, ...] = ()
    terms: tuple[str, ...] = ()
    anchor: datetime | None = None  # onset of the matched episode (for the pre-episode dose)
    # The evidence shows something abnormal (an event, a raised value, a co-medication), not only a
    # normal or recovered value: only such partial matches become "check before deciding" cards.
    trigger: bool = False
    stale: datetime | None = None  # when the out-of-date grade behind an undecided result was recorded
    # Values judged against toxhooks' default reference range (the lab sent none): unconfirmed, so
    # the card says so and offers no automatic order change.
    assumed: tuple[str, ...] = ()
    # Qualifiers nobody recorded that the result depends on (their names): the branches to evaluate.
    open: tuple[str, ...] = ()


@dataclass(frozen=True)
class Subject:
    """The drug a rule is evaluated for and the order that carries it."""

    drug: str
    order: MedicationOrder | None  # the draft (order hooks) or the active order (patient-view)
    therapy_start: datetime | None
    new_start: bool  # no order of this drug on record before


@dataclass(frozen=True)
class Context:
    """Inputs of one evaluation for one subject, with lookups computed once per request."""

    request: EvaluationRequest
    subject: Subject
    classes: Mapping[str, frozenset[str]]  # drug id -> its classes, including the id itself
    lab_max_age_days: int = 30
    event_max_age_days: int = 30  # a grade recorded earlier, with nothing newer, is re-assessed
    lab_events: Mapping[str, GradedEvent] = field(default_factory=dict)  # lab resource -> graded event
    # Values derived from the request alone (lab multiples, evidence rows), computed once per
    # evaluation: one request runs many rules over the same lab series. Shared across subjects.
    memo: dict[Hashable, Any] = field(default_factory=dict, repr=False, compare=False)
    # A branch under uncertainty: values assumed for qualifiers nobody recorded (name -> value).
    assume: Mapping[str, bool] = field(default_factory=dict)
    # The patient seen at an earlier time: the whole record's events, whose qualifiers answer a
    # question about that earlier episode when none was recorded by then (a contributing drug
    # stopped, another cause found: recorded afterwards, about the same episode).
    later_events: Mapping[str, TermTimeline] | None = None
