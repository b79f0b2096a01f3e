"""Qualifier names -> short clinical labels for card text (one table: yes and no, full and short)."""

from __future__ import annotations

__all__ = ["LABELLED", "branch_words", "qualifier_label"]

# name: (recorded yes, recorded no, short yes, short no). Full labels read after "if"; short ones
# fit a summary.
_LABELS: dict[str, tuple[str, str, str, str]] = {
    "symptomatic": ("symptomatic", "not symptomatic", "symptomatic", "not symptomatic"),
    "suspected-scar": (
        "a SCAR (SJS/TEN/DRESS) is suspected",
        "no SCAR (SJS/TEN/DRESS) is suspected",
        "SCAR suspected",
        "no SCAR suspected",
    ),
    "life-threatening": (
        "life-threatening",
        "not life-threatening",
        "life-threatening",
        "not life-threatening",
    ),
    "cholestasis": ("cholestasis", "no cholestasis", "cholestasis", "no cholestasis"),
    "hemolysis": ("hemolysis", "no hemolysis", "hemolysis", "no hemolysis"),
    "other-cause-found": ("another cause found", "no other cause found", "other cause", "no other cause"),
    "contributing-drug-stopped": (
        "a contributing drug stopped",
        "no contributing drug stopped",
        "contributing drug stopped",
        "no contributing drug stopped",
    ),
    "on-optimal-antihypertensive-therapy": (
        "on optimal antihypertensive therapy",
        "not on optimal antihypertensive therapy",
        "on optimal BP therapy",
        "not on optimal BP therapy",
    ),
}
LABELLED: frozenset[str] = frozenset(_LABELS)  # qualifier names with a clinical label


def qualifier_label(name: str, value: bool, *, short: bool = False) -> str:
    """A qualifier answer as a clinician reads it ("suspected-scar", True -> "a SCAR (SJS/TEN/DRESS)
    is suspected"); a name not in the table is spelled out from its id."""
    found = _LABELS.get(name)
    if found is None:
        words = name.replace("-", " ")
        return words if value else f"not {words}"
    return found[(0 if value else 1) + (2 if short else 0)]


def branch_words(assume: dict[str, bool], *, short: bool = False) -> str:
    """A branch of unrecorded qualifiers in words ("no cholestasis, no hemolysis")."""
    return ", ".join(qualifier_label(name, value, short=short) for name, value in assume.items())
