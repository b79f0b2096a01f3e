"""Per-term timelines: current and worst grade, onset, resolution, episodes above a threshold."""

from __future__ import annotations

from datetime import UTC, datetime

from terminology.facts import build_facts

from .builders import observation

CK = [
    (150, "2024-03-01"),
    (1250, "2024-04-02"),
    (700, "2024-04-09"),
    (400, "2024-04-16"),
    (1100, "2024-05-14"),
    (300, "2024-05-28"),
]


def test_second_occurrence_of_ck_above_five_times_uln() -> None:
    # shuffled on purpose: timelines sort by time
    labs = [
        observation("ck", v, "U/L", id=f"ck{i}", when=d, high=200) for i, (v, d) in enumerate(reversed(CK))
    ]
    timeline = build_facts(labs).timeline("CPK increased")
    assert timeline is not None
    assert [e.grade for e in timeline.events] == [0, 3, 2, 1, 3, 1]
    assert timeline.current_grade == 1 and timeline.worst_grade == 3
    assert timeline.episodes(min_grade=3) == 2  # "second occurrence of CPK > 5 x ULN"
    assert timeline.onset(min_grade=1) == datetime(2024, 4, 2, tzinfo=UTC)
    # the latest grade >= 3 episode (2024-05-14) came back to <= grade 1 on 2024-05-28
    assert timeline.resolved_to(max_grade=1, after_grade=3) == datetime(2024, 5, 28, tzinfo=UTC)
    latest = timeline.latest
    assert latest is not None and latest.evidence.resource == "Observation/ck0"


def test_unresolved_episode() -> None:
    labs = [observation("ck", v, "U/L", id=f"c{i}", when=d, high=200) for i, (v, d) in enumerate(CK[:3])]
    timeline = build_facts(labs).timeline("CPK increased")
    assert timeline is not None
    assert timeline.resolved_to(max_grade=1, after_grade=3) is None
    assert timeline.episodes(min_grade=3) == 1


def test_events_without_time_sort_first() -> None:
    labs = [
        observation("ck", 1250, "U/L", id="a", high=200),
        observation("ck", 300, "U/L", id="b", when=None, high=200),
    ]
    timeline = build_facts(labs).timeline("CPK increased")
    assert timeline is not None
    assert [e.evidence.resource for e in timeline.events] == ["Observation/b", "Observation/a"]


def test_labs_are_kept_by_analyte_oldest_first() -> None:
    labs = [
        observation("ck", v, "U/L", id=f"c{i}", when=d, high=200) for i, (v, d) in enumerate(reversed(CK))
    ]
    facts = build_facts(labs)
    latest = facts.latest_lab("ck")
    assert latest is not None and latest.value == 300 and latest.x_uln == 1.5
    assert [lab.value for lab in facts.labs["ck"]] == [v for v, _ in CK]
    assert facts.latest_lab("alt") is None
