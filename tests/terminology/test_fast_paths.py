"""The grade-0 shortcut gives exactly what grading band by band gives."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from terminology.grading import _best, _clearly_normal
from terminology.model import LabResult
from terminology.thresholds import Band, get_rules

WHEN = datetime(2024, 5, 1, 8, tzinfo=UTC)


def _lab(
    value: float, *, uln: float | None = 40.0, lln: float | None = 10.0, baseline: float | None = None
) -> LabResult:
    return LabResult(
        "alt", "Observation/1", WHEN, value, "U/L", f"{value:g} U/L", uln, lln, baseline=baseline
    )


def _band_sets() -> list[tuple[Band, ...]]:
    sets = []
    for version in ("5.0", "6.0"):
        for rule in get_rules(version):
            sets += [b for b in (rule.bands_desc, rule.baseline_desc, rule.combined_desc) if b]
    return sets


BAND_SETS = _band_sets()


def test_the_shortcut_applies_to_the_common_uln_rules() -> None:
    alt = next(r for r in get_rules("5.0") if r.term == "Alanine aminotransferase increased")
    assert _clearly_normal(_lab(20.0), alt.bands_desc) == (alt.bands_desc[-1], False, 40.0, 0.5)
    assert _clearly_normal(_lab(40.0), alt.bands_desc) is None  # on the threshold: graded in full
    assert _clearly_normal(_lab(20.0, uln=None), alt.bands_desc) is None  # no ULN: graded in full


@given(
    index=st.integers(min_value=0, max_value=len(BAND_SETS) - 1),
    ref=st.sampled_from([1e-12, 1e-6, 0.3, 1.0, 40.0, 123.456, 1e6]),
    ratio=st.floats(min_value=-2.0, max_value=25.0) | st.sampled_from([1.0, 0.999999, 1.000001, 0.0, -0.0]),
    nudge=st.sampled_from([0.0, 1e-12, -1e-12, 1e-9, -1e-9, 1e-7, -1e-7]),
)
@settings(max_examples=600, deadline=None)
def test_the_shortcut_agrees_with_grading_band_by_band(
    index: int, ref: float, ratio: float, nudge: float
) -> None:
    bands = BAND_SETS[index]
    lowest = bands[-1]
    value = lowest.x * ref * ratio + nudge
    lab = _lab(value, uln=ref, lln=ref, baseline=ref)
    shortcut = _clearly_normal(lab, bands)
    if shortcut is not None:
        assert _best(lab, bands) == (None, None, shortcut)
