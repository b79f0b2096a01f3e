"""Typed shape of a knowledge file (one drug or regimen), validated with pydantic."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cards.decisions import DECISIONS, Decision
from cards.model import ALL_HOOKS, Hook

__all__ = [
    "DECISIONS",
    "ChangeEntry",
    "CoMedication",
    "CycleTiming",
    "DayTiming",
    "DesensitizationProtocol",
    "DesensitizationStep",
    "DoseLadder",
    "DoseLevel",
    "Identity",
    "KnowledgeFile",
    "MonitoringEvidence",
    "MonitoringItem",
    "MonitoringPolicy",
    "MonitoringWindow",
    "ProphylaxisItem",
    "Reference",
    "RegimenStep",
    "RuleSpec",
    "StartingRegimen",
]


class _Strict(BaseModel):
    """Unknown keys are errors: a typo in a knowledge file must stop start-up."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Reference(_Strict):
    """A citation that rules and numbers point to."""

    citation: str
    url: str
    label: str  # short label shown as the card source, e.g. "Alecensa US label, section 2.4"
    verified: bool = True
    note: str | None = None


class ChangeEntry(_Strict):
    """One line of the file's change history."""

    version: str
    date: str
    change: str


class Identity(_Strict):
    """How to recognise the drug (handed to terminology)."""

    names: tuple[str, ...] = Field(min_length=1)
    rxnorm: tuple[str, ...] = ()
    ndc: tuple[str, ...] = ()
    local_codes: tuple[tuple[str, str], ...] = ()
    classes: tuple[str, ...] = ()
    source: str  # reference id
    verified: bool = True
    note: str | None = None


class CoMedication(Identity):
    """A drug recognised only to inform rules (or offered as an alternative)."""

    drug: str


class DoseLevel(_Strict):
    """One rung of the dose ladder: `dose` mg per administration, `per_day` administrations a day."""

    dose: float = Field(gt=0)
    per_day: float = Field(gt=0)


class DoseLadder(_Strict):
    """Label dose levels, highest first; below the lowest level the drug is discontinued."""

    unit: str = "mg"
    levels: tuple[DoseLevel, ...] = Field(min_length=1)
    source: str
    verified: bool = True
    note: str | None = None

    @model_validator(mode="after")
    def _descending(self) -> DoseLadder:
        daily = [level.dose * level.per_day for level in self.levels]
        if daily != sorted(daily, reverse=True) or len(set(daily)) != len(daily):
            raise ValueError("levels must be strictly descending by daily dose")
        return self


class RuleSpec(_Strict):
    """One rule: a condition (`when`) and the decision it leads to."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    title: str
    event: str  # short event label for the card summary, e.g. "CPK increase"
    when: dict[str, Any]
    decision: Decision
    source: str  # reference id
    verified: bool = True
    hooks: tuple[Hook, ...] = ALL_HOOKS
    until: str | None = None  # withhold: when it may be resumed, e.g. "CPK <= 2.5 x ULN"
    # The recovery criterion as a condition: once the rule has fired, the episode stays open (the
    # decision holds) until this is met on a later value, e.g. { lab = "ck", of = "uln", le = 2.5 }.
    recovery: dict[str, Any] | None = None
    resume: Literal["same", "reduced", "same-or-reduced", "reduced-or-discontinue", "per-protocol"] | None = (
        None
    )
    advice: str | None = None  # further wording for the card (Markdown)
    checks: tuple[str, ...] = ()  # what the clinician should check besides the data
    suggest: tuple[str, ...] = ()  # ids of prophylaxis/supportive items or alternative drugs to offer
    protocols: bool = False  # desensitize: offer the file's desensitization protocols
    grade_in_summary: bool = True
    refer: tuple[str, ...] = ()  # ids of [[referrals]] to offer as a ServiceRequest


class CycleTiming(_Strict):
    """Day `cycle_day` of the listed cycles and/or of every `every` cycles from `from_cycle` (open-ended)."""

    cycle_day: int = Field(default=1, ge=1)  # 1 = before the cycle (its first day)
    cycles: tuple[int, ...] = ()  # these cycles (1-based)
    every: int | None = Field(default=None, gt=0)  # and every `every` cycles from `from_cycle` on
    from_cycle: int = Field(default=1, ge=1)
    until_cycle: int | None = None  # None: for as long as therapy continues


class DayTiming(_Strict):
    """Every `every_days` days from `from_day` (day 0 = first dose) until `until_day` (None: no end)."""

    every_days: int = Field(gt=0)
    from_day: int = Field(default=0, ge=0)
    until_day: int | None = None


class MonitoringWindow(_Strict):
    """How far before and after a scheduled day a result still counts for it."""

    before_days: int = Field(default=2, ge=0)
    after_days: int = Field(default=2, ge=0)
    baseline_before_days: int = Field(default=14, ge=0)  # a baseline (day 0) may be this much earlier
    pre_cycle_before_days: int | None = Field(default=None, ge=0)  # "before cycle N": None = before_days
    source: str  # reference id
    local_policy: bool = False  # True: a local choice, not a published number (cards say so)


class MonitoringPolicy(_Strict):
    """File-wide monitoring settings: the result window, the 'due soon' horizon and the cycle."""

    window: MonitoringWindow
    due_soon_days: int = Field(default=3, ge=0)  # product setting: how far ahead "due soon" looks
    cycle_days: int | None = Field(default=None, gt=0)
    days_on: int | None = Field(default=None, gt=0)  # treatment days per cycle; the rest is a planned break
    cycle_source: str | None = None  # reference id of the cycle length and pattern


class MonitoringEvidence(_Strict):
    """What counts as the assessment being done, besides a lab result of `lab`."""

    lab: str | None = None  # terminology analyte id, e.g. "alt"
    # Procedure / DiagnosticReport / Observation codes ((system, code)) and name fragments.
    codes: tuple[tuple[str, str], ...] = ()
    names: tuple[str, ...] = ()
    # Resource kinds searched for codes and names: "procedure", "diagnostic-report", "observation".
    kinds: tuple[Literal["procedure", "diagnostic-report", "observation"], ...] = ()
    soc: tuple[str, ...] = ()  # a clinician-recorded CTCAE grade of a term of these SOCs counts


class MonitoringItem(_Strict):
    """A test or exam to schedule, with its timing relative to the therapy start."""

    id: str
    display: str
    short: str | None = None  # name on cards, e.g. "ALT"
    loinc: str | None = None
    snomed: str | None = None
    code_verified: bool = True  # an unverified code is not sent; the order carries text only
    # Timing: days after the therapy start (day 0 = first dose) and/or cycle-based timing.
    days: tuple[int, ...] = ()
    repeat: tuple[DayTiming, ...] = ()
    cycle_days: int | None = None  # cycle length for cycle-based timing (else the policy's)
    cycles: tuple[int, ...] = ()  # before these cycles (day 1 of the cycle, 1-based)
    cycle_day15_of: tuple[int, ...] = ()  # on day 15 of these cycles
    cycle_timing: tuple[CycleTiming, ...] = ()
    evidence: MonitoringEvidence | None = None  # None: a lab result of the analyte `id`
    window: MonitoringWindow | None = None  # None: the policy's window
    note: str | None = None
    source: str


class ProphylaxisItem(_Strict):
    """A supportive or prophylactic medication (or measure) to offer as a draft order."""

    id: str
    display: str
    rxnorm: str | None = None  # ingredient code; None when there is no confirmed code
    code_verified: bool = True
    route: str | None = None
    instructions: str  # patient instructions / where to apply; dose left to the prescriber
    duration_days: int | None = None
    order: bool = True  # False: advice only (e.g. sunscreen), no MedicationRequest
    source: str
    # Items to choose between: each is its own suggestion, labelled "(or ...)", never combined.
    alternatives: tuple[str, ...] = ()


class ReferralItem(_Strict):
    """A referral offered as a draft ServiceRequest (SNOMED CT coded only when the code is confirmed)."""

    id: str
    display: str
    snomed: str | None = None
    code_verified: bool = False  # an unverified code is not sent; the request carries text only
    note: str | None = None
    source: str


class DesensitizationStep(_Strict):
    """One step: `doses` mg per administration (one per daily administration), for `days` days."""

    doses: tuple[float, ...] = Field(min_length=1)
    days: int | None = Field(default=None, gt=0)  # None: the final, continuing dose


class DesensitizationProtocol(_Strict):
    """A published step-wise rechallenge schedule."""

    id: str
    label: str
    summary: str
    steps: tuple[DesensitizationStep, ...] = ()  # empty when the steps are not confirmed
    verified: bool = True
    setting: str | None = None
    adjuncts: str | None = None
    outcome: str | None = None
    offer: bool = True  # False: shown as evidence only (e.g. a published failed attempt)
    source: str


class RegimenStep(_Strict):
    """One phase of a starting regimen: `dose` per administration, `per_day` times a day, for `days`."""

    dose: float = Field(gt=0)
    per_day: float = Field(gt=0)
    days: int | None = Field(default=None, gt=0)  # None: the continuing dose


class NewCourse(_Strict):
    """When an order after a stop starts a new course (first-order checks, a fresh schedule)."""

    gap_days: int = Field(gt=0)  # days without any order of the drug in force, at least
    source: str
    local_policy: bool = False  # the institution's choice, not a published number


class StartingRegimen(_Strict):
    """The label's first-order regimen (lead-in phases, then the continuing dose), for new orders."""

    unit: str = "mg"
    route: str | None = None
    steps: tuple[RegimenStep, ...] = Field(min_length=1)
    source: str
    verified: bool = True  # False: a new order carries text only ("dose per the prescribing information")
    note: str | None = None

    @model_validator(mode="after")
    def _phases(self) -> StartingRegimen:
        if any(step.days is None for step in self.steps[:-1]):
            raise ValueError("every step but the last needs `days`")
        if self.steps[-1].days is not None:
            raise ValueError("the last step is the continuing dose: no `days`")
        return self


class KnowledgeFile(_Strict):
    """A whole knowledge file."""

    drug: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    title: str
    version: str
    history: tuple[ChangeEntry, ...] = Field(min_length=1)
    identity: Identity
    co_medications: tuple[CoMedication, ...] = ()
    dose_ladder: DoseLadder | None = None
    starting_regimen: StartingRegimen | None = None
    cycle_days: int | None = None
    references: dict[str, Reference] = Field(min_length=1)
    rules: tuple[RuleSpec, ...] = ()
    monitoring: tuple[MonitoringItem, ...] = ()
    monitoring_policy: MonitoringPolicy | None = None
    prophylaxis: tuple[ProphylaxisItem, ...] = ()
    referrals: tuple[ReferralItem, ...] = ()
    desensitization: tuple[DesensitizationProtocol, ...] = ()
    lab_max_age_days: int = Field(default=30, gt=0)
    event_max_age_days: int = Field(default=30, gt=0)
    new_course: NewCourse | None = None  # absent: only a drug with no order on record is a new start

    @model_validator(mode="after")
    def _references_exist(self) -> KnowledgeFile:
        known = set(self.references)
        cited: list[tuple[str, str]] = [("identity.source", self.identity.source)]
        cited += [(f"co_medications.{i}.source", c.source) for i, c in enumerate(self.co_medications)]
        if self.dose_ladder:
            cited.append(("dose_ladder.source", self.dose_ladder.source))
        if self.starting_regimen:
            cited.append(("starting_regimen.source", self.starting_regimen.source))
        if self.new_course:
            cited.append(("new_course.source", self.new_course.source))
        cited += [(f"rules.{i}.source", r.source) for i, r in enumerate(self.rules)]
        cited += [(f"monitoring.{i}.source", m.source) for i, m in enumerate(self.monitoring)]
        cited += [
            (f"monitoring.{i}.window.source", m.window.source)
            for i, m in enumerate(self.monitoring)
            if m.window is not None
        ]
        if self.monitoring_policy is not None:
            cited.append(("monitoring_policy.window.source", self.monitoring_policy.window.source))
            if self.monitoring_policy.cycle_source:
                cited.append(("monitoring_policy.cycle_source", self.monitoring_policy.cycle_source))
        cited += [(f"prophylaxis.{i}.source", p.source) for i, p in enumerate(self.prophylaxis)]
        cited += [(f"desensitization.{i}.source", d.source) for i, d in enumerate(self.desensitization)]
        cited += [(f"referrals.{i}.source", r.source) for i, r in enumerate(self.referrals)]
        for where, ref in cited:
            if ref not in known:
                raise ValueError(f"{where}: unknown reference {ref!r}")
        ids = [r.id for r in self.rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"rules: duplicate rule id(s) {', '.join(duplicates)}")
        offered = {p.id for p in self.prophylaxis} | {c.drug for c in self.co_medications}
        for i, rule in enumerate(self.rules):
            for item in rule.suggest:
                if item not in offered:
                    raise ValueError(f"rules.{i}.suggest: unknown item {item!r}")
            for item in rule.refer:
                if item not in {r.id for r in self.referrals}:
                    raise ValueError(f"rules.{i}.refer: unknown referral {item!r}")
        items = {p.id for p in self.prophylaxis}
        for i, prophylaxis in enumerate(self.prophylaxis):
            for item in prophylaxis.alternatives:
                if item not in items:
                    raise ValueError(f"prophylaxis.{i}.alternatives: unknown item {item!r}")
        return self
