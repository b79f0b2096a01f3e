"""Data shaping of the web pages: grade bands, lab series, event markers, therapy lanes, calendars, cards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cards.loader import KnowledgeBase
from cards.model import Card, EvaluationRequest, EvaluationResult, Link, RenderedCard, Source
from cards.schema import KnowledgeFile
from service.views.bands import GradeBand, uln_bands
from service.views.calendar import Protocol, ProtocolStep, protocols_from_knowledge, step_calendar
from service.views.card_display import display_card, display_cards, render_markdown, safe_url
from service.views.series import event_markers, lab_series
from service.views.therapy import therapy_segments
from service.views.timeline import build_timeline, jsonable
from terminology.model import (
    Dose,
    DrugMatch,
    EventSource,
    Evidence,
    GradedEvent,
    LabResult,
    MedicationOrder,
    PatientFacts,
    TermTimeline,
)

# Grade texts as the CTCAE v5.0 table writes them (test input, not product data).
CPK = (">ULN - 2.5 x ULN", ">2.5 x ULN - 5 x ULN", ">5 x ULN - 10 x ULN", ">10 x ULN", "-")
ALT = (
    ">ULN - 3.0 x ULN if baseline was normal; 1.5 - 3.0 x baseline if baseline was abnormal",
    ">3.0 - 5.0 x ULN if baseline was normal; >3.0 - 5.0 x baseline if baseline was abnormal",
    ">5.0 - 20.0 x ULN if baseline was normal; >5.0 - 20.0 x baseline if baseline was abnormal",
    ">20.0 x ULN if baseline was normal; >20.0 x baseline if baseline was abnormal",
    "-",
)
CREATININE = (
    ">ULN - 1.5 x ULN",
    ">1.5 - 3.0 x baseline; >1.5 - 3.0 x ULN",
    ">3.0 x baseline; >3.0 - 6.0 x ULN",
    ">6.0 x ULN",
    "-",
)
NEUTROPHILS = (
    "<LLN - 1500/mm3; <LLN - 1.5 x 10e9 /L",
    "<1500 - 1000/mm3",
    "<1000 - 500/mm3",
    "<500/mm3",
    "-",
)
T0 = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)


def _bounds(bands: tuple[GradeBand, ...]) -> list[tuple[int, float, float | None]]:
    return [(b.grade, b.lower, b.upper) for b in bands]


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (CPK, [(1, 1.0, 2.5), (2, 2.5, 5.0), (3, 5.0, 10.0), (4, 10.0, None)]),
        (ALT, [(1, 1.0, 3.0), (2, 3.0, 5.0), (3, 5.0, 20.0), (4, 20.0, None)]),
        (CREATININE, [(1, 1.0, 1.5), (2, 1.5, 3.0), (3, 3.0, 6.0), (4, 6.0, None)]),
        (NEUTROPHILS, []),
    ],
)
def test_uln_bands_read_from_ctcae_texts(texts: tuple[str, ...], expected: list[Any]) -> None:
    assert _bounds(uln_bands(texts)) == expected


def test_uln_bands_keep_the_clause_and_flag_conditions() -> None:
    lipase = (
        ">ULN - 1.5 x ULN",
        ">1.5 - 2.0 x ULN; >2.0 - 5.0 x ULN and asymptomatic",
        ">2.0 - 5.0 x ULN with signs or symptoms; >5.0 x ULN and asymptomatic",
        ">5.0 x ULN and with signs or symptoms",
        "-",
    )
    bands = uln_bands(lipase)
    assert [b.conditional for b in bands] == [False, False, True, True]
    assert bands[2].text == ">2.0 - 5.0 x ULN with signs or symptoms"
    assert uln_bands(ALT)[0].text == ">ULN - 3.0 x ULN"


def test_uln_bands_refuse_non_contiguous_grades() -> None:
    assert uln_bands((">ULN - 2.0 x ULN", ">3.0 - 5.0 x ULN")) == ()


def _lab(analyte: str, day: int, value: float, uln: float | None, resource: str) -> LabResult:
    return LabResult(
        analyte=analyte,
        resource=resource,
        effective=T0 + timedelta(days=day) if day >= 0 else None,
        value=value,
        unit="U/L",
        received=f"{value:g} U/L",
        uln=uln,
    )


def _event(
    term: str, grade: int, day: int, source: EventSource, resource: str, analyte: str | None = None
) -> GradedEvent:
    return GradedEvent(
        term=term,
        meddra_code=None,
        grade=grade,
        ctcae_version="5.0",
        effective=T0 + timedelta(days=day),
        source=source,
        evidence=Evidence(resource=resource),
        analyte=analyte,
        suspect_drugs=("alectinib",) if source is not EventSource.LAB else (),
    )


def _facts() -> PatientFacts:
    cpk_events = (
        _event("CPK increased", 0, 0, EventSource.LAB, "Observation/ck-0", "ck"),
        _event("CPK increased", 4, 14, EventSource.LAB, "Observation/ck-1", "ck"),
    )
    rash = (_event("Rash maculo-papular", 3, 7, EventSource.OBSERVATION, "Observation/rash-1"),)
    return PatientFacts(
        ctcae_version="5.0",
        timelines={
            "CPK increased": TermTimeline("CPK increased", cpk_events),
            "Rash maculo-papular": TermTimeline("Rash maculo-papular", rash),
        },
        labs={
            "alt": (_lab("alt", 0, 20.0, 40.0, "Observation/alt-0"),),
            "ck": (
                _lab("ck", 0, 150.0, 200.0, "Observation/ck-0"),
                _lab("ck", -1, 300.0, 200.0, "Observation/ck-undated"),
                _lab("ck", 14, 2300.0, 200.0, "Observation/ck-1"),
            ),
        },
    )


def _texts(term: str) -> tuple[str, ...] | None:
    return {"CPK increased": CPK, "Alanine aminotransferase increased": ALT}.get(term)


def test_lab_series_orders_analytes_grades_points_and_attaches_bands() -> None:
    series = lab_series(_facts(), _texts)
    assert [s.analyte for s in series] == ["ck", "alt"]
    ck = series[0]
    assert ck.term == "CPK increased"
    assert [(p.value, p.x_uln, p.grade) for p in ck.points] == [(150.0, 0.75, 0), (2300.0, 11.5, 4)]
    # Shown multiples are cut toward zero, ">" when digits were dropped: never rounded onto a threshold.
    assert [p.x_uln_shown for p in ck.points] == ["> 0.7", "11.5"]
    assert ck.undated == 1
    assert _bounds(ck.bands)[-1] == (4, 10.0, None)
    alt = series[1]
    assert alt.term == "Alanine aminotransferase increased"  # no graded event: the display map names it
    assert alt.points[0].grade is None and len(alt.bands) == 4


def test_lab_series_without_grade_texts_has_no_bands() -> None:
    assert all(s.bands == () for s in lab_series(_facts(), lambda term: None))


def test_event_markers_are_recorded_events_only() -> None:
    markers = event_markers(_facts())
    assert [(m.term, m.grade, m.source, m.resource) for m in markers] == [
        ("Rash maculo-papular", 3, "observation", "Observation/rash-1")
    ]
    assert markers[0].suspect_drugs == ("alectinib",)


def _order(reference: str, status: str, day: int, daily: float | None, **extra: Any) -> MedicationOrder:
    dose = (
        Dose(understood=True, per_administration=daily / 2, unit="mg", administrations_per_day=2, daily=daily)
        if daily is not None
        else Dose(understood=False, text="as directed", problem="no dose")
    )
    return MedicationOrder(
        reference=reference,
        resource=extra.pop("resource", {"resourceType": "MedicationRequest"}),
        status=status,
        intent="order",
        drug=DrugMatch(drug="alectinib", match="rxnorm", code="1727479"),
        medication_text="Alecensa 150 mg",
        dose=dose,
        start=T0 + timedelta(days=day),
        end=extra.pop("end", None),
    )


def test_therapy_segments_mark_holds_reductions_restarts_and_unknown_doses() -> None:
    orders = [
        _order("MedicationRequest/4", "active", 30, 900.0),
        _order("MedicationRequest/1", "stopped", 0, 1200.0, end=T0 + timedelta(days=14)),
        _order("MedicationRequest/2", "on-hold", 14, 1200.0),
        _order("MedicationRequest/3", "active", 21, 1200.0),
        _order("MedicationRequest/5", "active", 40, None),
    ]
    segments = therapy_segments(orders)
    assert [(s.reference, s.state, s.change) for s in segments] == [
        ("MedicationRequest/1", "stopped", "start"),
        ("MedicationRequest/2", "hold", "same"),
        ("MedicationRequest/3", "active", "restart"),
        ("MedicationRequest/4", "active", "reduction"),
        ("MedicationRequest/5", "active", "unknown"),
    ]
    assert segments[0].daily_dose == 1200.0 and segments[4].daily_dose is None


def test_therapy_segments_read_stepped_dosage_instructions() -> None:
    resource = {
        "dosageInstruction": [
            {
                "sequence": 1,
                "text": "step 1",
                "timing": {"repeat": {"boundsPeriod": {"start": "2026-10-01"}}},
            },
            {"sequence": 2, "text": "step 2", "timing": {"repeat": {"boundsPeriod": {"end": "2026-10-09"}}}},
        ]
    }
    (segment,) = therapy_segments([_order("MedicationRequest/5", "active", 0, 300.0, resource=resource)])
    assert [(s.sequence, s.text, s.start, s.end) for s in segment.steps] == [
        (1, "step 1", "2026-10-01", None),
        (2, "step 2", None, "2026-10-09"),
    ]


def test_step_calendar_unrolls_each_day() -> None:
    protocol = Protocol(
        id="p",
        label="Test protocol",
        steps=(ProtocolStep(days=2, doses_mg=(10.0, 10.0)), ProtocolStep(days=3, doses_mg=(20.0, 30.0))),
        maintenance_mg=(40.0, 40.0),
    )
    calendar = step_calendar(protocol)
    assert calendar.length == 5
    assert [(d.day, d.step, d.total_mg) for d in calendar.days] == [
        (1, 1, 20.0),
        (2, 1, 20.0),
        (3, 2, 50.0),
        (4, 2, 50.0),
        (5, 2, 50.0),
    ]


def _knowledge_file() -> KnowledgeFile:
    return KnowledgeFile.model_validate(
        {
            "drug": "testdrug",
            "title": "Test drug",
            "version": "1",
            "history": [{"version": "1", "date": "2026-01-01", "change": "first"}],
            "identity": {"names": ["testdrug"], "source": "ref"},
            "references": {
                "ref": {"citation": "A case", "url": "https://example.org/case", "label": "Case 2020"}
            },
            "desensitization": [
                {
                    "id": "case",
                    "label": "Case protocol",
                    "summary": "Five days up, then the full dose.",
                    "steps": [{"doses": [1, 1], "days": 2}, {"doses": [2], "days": 1}, {"doses": [3, 3]}],
                    "source": "ref",
                    "setting": "outpatient",
                }
            ],
        }
    )


def test_protocols_from_knowledge_resolve_sources_and_final_dose() -> None:
    (protocol,) = protocols_from_knowledge(_knowledge_file())
    assert protocol.source == "Case 2020" and protocol.source_url == "https://example.org/case"
    assert protocol.maintenance_mg == (3.0, 3.0)
    assert protocol.notes == ("Five days up, then the full dose.", "outpatient")
    assert [d.total_mg for d in step_calendar(protocol).days] == [2.0, 2.0, 2.0]


def test_markdown_escapes_html_and_refuses_script_links() -> None:
    html = render_markdown("**Withhold** <script>alert(1)</script> [x](javascript:alert(1))")
    assert "<strong>Withhold</strong>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html


def test_markdown_renders_evidence_tables() -> None:
    html = render_markdown("| Observation | Grade |\n|---|---|\n| Observation/1 | 3 |\n")
    assert "<table>" in html and "<td>Observation/1</td>" in html


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://ehr.example/smart/launch", "https://ehr.example/smart/launch"),
        ("javascript:alert(1)", None),
        ("/relative", None),
        (42, None),
    ],
)
def test_safe_url(url: object, expected: str | None) -> None:
    assert safe_url(url) == expected


def test_display_cards_sort_by_severity_and_keep_links_and_actions() -> None:
    response = {
        "cards": [
            {"summary": "Info", "indicator": "info", "source": {"label": "S"}},
            {
                "summary": "Withhold",
                "indicator": "critical",
                "detail": "CPK **11.5 x ULN**",
                "source": {"label": "Label", "url": "javascript:x"},
                "suggestions": [
                    {
                        "label": "Cancel the order",
                        "isRecommended": True,
                        "actions": [
                            {
                                "type": "delete",
                                "description": "Remove draft",
                                "resourceId": "MedicationRequest/1",
                            }
                        ],
                    }
                ],
                "links": [
                    {
                        "label": "Timeline",
                        "url": "https://h/smart/launch",
                        "type": "smart",
                        "appContext": "{}",
                    }
                ],
            },
        ]
    }
    first, second = display_cards(response)
    assert (first["summary"], second["summary"]) == ("Withhold", "Info")
    assert first["source"]["url"] is None
    assert "<strong>11.5 x ULN</strong>" in first["detailHtml"]
    assert first["suggestions"][0]["actions"][0]["resourceId"] == "MedicationRequest/1"
    assert first["links"][0]["type"] == "smart"
    assert display_card({"indicator": "bogus"})["indicator"] == "info"


def test_build_timeline_puts_the_linked_rule_first_and_filters_other_drugs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    facts = _facts()
    monkeypatch.setattr("service.reading.build_facts", lambda resources, **kw: facts)

    def card(summary: str, drug: str | None, rules: tuple[str, ...]) -> RenderedCard:
        shape = Card(
            summary=summary,
            indicator="warning",
            source=Source(label="Label"),
            links=(Link(label="Timeline", url="https://h/smart/launch", type="smart", appContext="{}"),),
        )
        return RenderedCard(card=shape, drug=drug, decision="withhold", rule_ids=rules)

    seen: list[EvaluationRequest] = []

    def evaluator(request: EvaluationRequest, knowledge: KnowledgeBase) -> EvaluationResult:
        seen.append(request)
        return EvaluationResult(
            cards=(
                card("A", "alectinib", ("a.one",)),
                card("B", "pimasertib", ("p",)),
                card("C", "alectinib", ("a.cpk",)),
            )
        )

    now = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)
    view = build_timeline(
        [{"resourceType": "Observation", "id": "x"}],
        patient_id="p1",
        drug="alectinib",
        rule="a.cpk",
        now=now,
        knowledge=KnowledgeBase(),
        ctcae_version="5.0",
        grade_texts=_texts,
        protocols=(Protocol(id="p", label="P", steps=(ProtocolStep(days=1, doses_mg=(5.0,)),)),),
        evaluator=evaluator,
    )
    assert seen[0].hook == "patient-view" and seen[0].now == now and seen[0].patient_id == "p1"
    assert [c["summary"] for c in view["recommendation"]] == ["C", "A"]
    assert view["recommendation"][0]["fromLink"] is True
    assert view["labs"][0]["points"][1]["time"] == "2026-09-15T08:00:00+00:00"
    assert view["labs"][0]["bands"][0] == {
        "grade": 1,
        "lower": 1.0,
        "upper": 2.5,
        "text": ">ULN - 2.5 x ULN",
        "conditional": False,
    }
    assert view["calendars"][0]["days"][0]["total_mg"] == 5.0
    assert view["events"][0]["source"] == "observation"


def test_jsonable_handles_nested_values() -> None:
    assert jsonable({"a": (EventSource.LAB, T0)}) == {"a": ["lab", "2026-09-01T08:00:00+00:00"]}


def test_monitoring_schedule_states_the_wider_windows_and_marks_an_ended_schedule_missed() -> None:
    from cards.loader import load_knowledge
    from service.views.monitoring import monitoring_schedules

    start = datetime(2025, 9, 15, tzinfo=UTC)
    order = MedicationOrder(
        reference="MedicationRequest/pima",
        resource={"resourceType": "MedicationRequest", "id": "pima"},
        status="active",
        intent="order",
        drug=DrugMatch(drug="pimasertib", match="name"),
        medication_text="pimasertib",
        dose=Dose(understood=False, text="60 mg BID"),
        authored_on=start,
        start=start,
    )
    facts = PatientFacts(ctcae_version="5.0", medications=(order,))
    now = datetime(2026, 3, 16, 10, tzinfo=UTC)
    [schedule] = monitoring_schedules(facts, load_knowledge(), now=now, drug="pimasertib")
    assert schedule.window == (
        "2 days before to 2 days after (a baseline from 14 days before the first dose; local policy)"
    )
    # Week 8 (10 Nov 2025) was never done; the schedule ended there: missed, not overdue today.
    week8 = [r for r in schedule.rows if r.label == "day 56 (week 8)"]
    assert week8 and {r.status for r in week8} == {"missed"}
    assert all(r.status != "overdue" for r in schedule.rows)
