"""Card text helpers: missing data grouped so a clinician reads each gap once."""

from __future__ import annotations

from cards.render import missing_lines


def test_missing_data_is_grouped_by_what_and_why() -> None:
    lines = missing_lines(
        [
            "alt (latest result 2026-01-02 is older than 30 days; needed for ALT > 5 x ULN)",
            "alt (latest result 2026-01-02 is older than 30 days; needed for ALT > 3 x ULN)",
            "alt (latest result 2026-01-02 is older than 30 days; needed for ALT > 5 x ULN)",
            "bilirubin (no result on record; needed for bilirubin > 3 x ULN)",
            "the dose of MedicationRequest/d1 (no structured dose)",
        ]
    )
    assert lines == [
        "- ALT (Alanine aminotransferase): latest result 2026-01-02 is older than 30 days; "
        "needed for ALT > 5 x ULN, ALT > 3 x ULN",
        "- Bilirubin, total: no result on record; needed for bilirubin > 3 x ULN",
        "- the dose of MedicationRequest/d1 (no structured dose)",
    ]


def test_unknown_subjects_keep_their_words() -> None:
    lines = missing_lines(["creatinine baseline (not known; needed for creatinine >= 1.5 x baseline)"])
    assert lines == ["- creatinine baseline: not known; needed for creatinine >= 1.5 x baseline"]
