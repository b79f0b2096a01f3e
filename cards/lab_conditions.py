"""Conditions over lab values as multiples of ULN or baseline (or absolute values)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from cards.context import Context, Outcome, Row, align, fmt_date
from cards.logic import COMPARATORS, Condition, ConditionError, Number, exact, multiple_text, ratio
from terminology.model import LabResult

__all__ = ["lab_condition", "lab_ever_met", "lab_met_by", "latest_rows"]


def _assumed(labs: Sequence[LabResult], of: str) -> tuple[str, ...]:
    """Which of these values were judged against toxhooks' default ULN (the lab sent none)."""
    if of != "uln":
        return ()
    return tuple(
        f"{lab.resource}: ULN {lab.uln:g} {lab.unit} is toxhooks' default"
        " (the result carried no reference range)"
        for lab in labs
        if "ULN" in lab.default_bounds and lab.uln is not None
    )


def _lab_row(ctx: Context, lab: LabResult, of: str) -> Row:
    """The evidence row of one value (computed once per evaluation: many rules show the same rows)."""
    # Kept in the memo shared across earlier moments when there is one: a row depends on the value
    # and the request's graded events only, and the patient as of an earlier moment holds the same
    # value objects (a prefix of the same series). The series keep the values alive: ids stay theirs.
    memo: dict[Hashable, Any] = ctx.memo.get(("shared",), ctx.memo)
    key = ("lab-row", id(lab), of)
    row: Row | None = memo.get(key)
    if row is None:
        row = memo[key] = _build_row(ctx, lab, of)
    return row


def latest_rows(ctx: Context, analytes: Sequence[str]) -> tuple[Row, ...]:
    """Evidence rows of the latest value of each analyte (what a withhold continues on)."""
    return tuple(
        _lab_row(ctx, series[-1], "uln") for a in analytes if (series := ctx.request.facts.labs.get(a))
    )


def _build_row(ctx: Context, lab: LabResult, of: str) -> Row:
    parts = []
    if lab.uln:
        parts.append(multiple_text(lab.value, lab.uln))
    if lab.baseline and (of == "baseline" or lab.analyte == "creatinine"):
        parts.append(multiple_text(lab.value, lab.baseline, "baseline"))
    graded = ctx.lab_events.get(lab.resource)
    return Row(
        observation=lab.resource,
        value=lab.received,
        multiple="; ".join(parts),
        term=graded.term if graded else lab.analyte,
        grade=graded.grade if graded else None,
        version=graded.ctcae_version if graded else "",
        date=fmt_date(lab.effective),
    )


def _per_value(
    ctx: Context, key: Hashable, analyte: str, build: Callable[[tuple[LabResult, ...]], tuple[Any, ...]]
) -> tuple[Any, ...]:
    """`build` of the analyte's series: one item per value, depending on that value only (memoised)."""
    found: tuple[Any, ...] | None = ctx.memo.get(key)
    if found is None:
        series = ctx.request.facts.labs.get(analyte, ())
        # The patient as of an earlier moment (cards.engine) sees a prefix of the same series: its
        # items are a prefix of the ones already worked out (each depends on its own value only).
        shared: dict[Hashable, Any] | None = ctx.memo.get(("shared",))
        whole = shared.get(key) if shared is not None else None
        if whole is not None and whole[0][: len(series)] == series:
            found = whole[1][: len(series)]
        else:
            found = build(series)
            if shared is not None and (whole is None or len(series) > len(whole[0])):
                shared[key] = (series, found)
        ctx.memo[key] = found
    return found


def _multiples(ctx: Context, analyte: str, of: str) -> tuple[Decimal | None, ...]:
    """The compared quantity (x ULN, x baseline or the value) of each result, in decimal, memoised."""

    def build(series: tuple[LabResult, ...]) -> tuple[Decimal | None, ...]:
        if of == "value":
            return tuple(exact(lab.value) for lab in series)
        if of == "uln":
            return tuple(ratio(lab.value, lab.uln) for lab in series)
        return tuple(ratio(lab.value, lab.baseline) for lab in series)

    return _per_value(ctx, ("lab-multiples", analyte, of), analyte, build)


def _meets(ctx: Context, test: _LabTest) -> tuple[bool, ...]:
    """Whether each result's compared quantity is known and meets the test's comparison (memoised)."""
    multiples = _multiples(ctx, test.analyte, test.of)
    # COMPARATORS compare exact(a) with exact(b); a multiple is a Decimal already (exact(m) is m),
    # so comparing it with the threshold's exact decimal is the same test, without the calls.
    compare, limit = _DECIMAL_COMPARATORS[test.op], exact(test.threshold)

    def build(series: tuple[LabResult, ...]) -> tuple[bool, ...]:
        return tuple(m is not None and compare(m, limit) for m in multiples)

    key = ("lab-meets", test.analyte, test.of, test.op, test.threshold)
    return _per_value(ctx, key, test.analyte, build)


def _unrecovered(
    ctx: Context,
    series: Sequence[LabResult],
    multiples: Sequence[Decimal | None],
    meets: Sequence[bool],
    until: float,
    of: str,
) -> Outcome:
    """A value met the threshold earlier, the latest does not, and none since is back to `until`.

    This is the "withhold until recovered" stretch between a withholding value and recovery.
    """
    peaks = [i for i, met in enumerate(meets) if met]
    if not peaks or peaks[-1] == len(series) - 1:
        return Outcome(False)  # never met, or met now (the rule on the current value applies)
    since = [m for m in multiples[peaks[-1] + 1 :] if m is not None]
    if not since or any(m <= exact(until) for m in since):
        return Outcome(False)
    onset = peaks[-1]
    while onset - 1 in peaks:  # back to the first value of this run (the dose before it is the reference)
        onset -= 1
    peak, latest = series[peaks[-1]], series[-1]
    graded = ctx.lab_events.get(latest.resource)
    return Outcome(
        True,
        rows=(_lab_row(ctx, peak, of), _lab_row(ctx, latest, of)),
        grades=(graded.grade,) if graded else (),
        terms=(graded.term,) if graded else (latest.analyte,),
        anchor=series[onset].effective,
        trigger=True,
        assumed=_assumed((peak, latest), of),
    )


def _worst(multiples: Sequence[Decimal | None]) -> int | None:
    """Index of the first highest known value, or None when none is known."""
    known = [i for i, m in enumerate(multiples) if m is not None]
    return max(known, key=lambda i: multiples[i] or Decimal(0)) if known else None


def _episodes(
    series: Sequence[LabResult],
    multiples: Sequence[Decimal | None],
    meets: Sequence[bool],
    recovered_le: float | None = None,
) -> tuple[int, datetime | None]:
    """How many separate episodes of values meet the threshold, and when the last one began.

    With `recovered_le`, an episode ends only at a value back to <= it (the rule's recovery level):
    dipping below the threshold without recovering is the same episode, not a second occurrence.
    """
    runs, inside, onset = 0, False, None
    for lab, m, above in zip(series, multiples, meets, strict=True):
        if above and not inside:
            runs, onset = runs + 1, lab.effective
        if recovered_le is None:
            inside = above
        elif above:
            inside = True
        elif m is not None and m <= exact(recovered_le):
            inside = False
    return runs, onset


_DECIMAL_COMPARATORS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}


@dataclass(frozen=True, slots=True)
class _LabTest:
    """A `lab` node read once: which value of which series is compared with what."""

    analyte: str
    of: str
    op: str
    threshold: float
    which: str
    until: float | None
    episodes: int

    @property
    def compare(self) -> Callable[[Number, Number], bool]:
        return COMPARATORS[self.op][1]


def _lab_test(spec: Mapping[str, Any]) -> _LabTest:
    analyte = str(spec["lab"])
    of = spec.get("of", "uln")
    if of not in ("uln", "baseline", "value"):
        raise ConditionError(f"of: expected 'uln', 'baseline' or 'value', got {of!r}")
    tests = [(op, float(spec[op])) for op in COMPARATORS if op in spec]
    if len(tests) != 1:
        raise ConditionError(f"lab {analyte}: give exactly one of gt, ge, lt, le")
    op, threshold = tests[0]
    which = spec.get("which", "latest")
    if which not in ("latest", "worst", "unrecovered"):
        raise ConditionError(f"which: expected latest, worst or unrecovered, got {which!r}")
    until = spec.get("until_le")
    episodes = int(spec.get("episodes_ge", 1))
    if (which == "unrecovered") != (until is not None) and not (until is not None and episodes > 1):
        raise ConditionError("until_le: required with which = 'unrecovered'; allowed with episodes_ge")
    return _LabTest(analyte, of, op, threshold, which, None if until is None else float(until), episodes)


def lab_ever_met(ctx: Context, spec: Mapping[str, Any]) -> bool:
    """False only when the lab test is not true for the patient as seen at any moment (memoised).

    Seen at an earlier moment, the series is the values recorded by then: a prefix (or, with naive
    times, a subsequence) of the whole series, each value with the same multiple (it depends on
    that value alone). The test is true only when the value it picks (the latest, the worst, the
    peak of an unrecovered stretch) meets the comparison, so it never is when no value of the whole
    series meets it. With `episodes_ge`, it also needs that many separate runs: a prefix or
    subsequence never has more runs than the whole series (a run ends only at a value that ends it
    in the whole series too), so fewer runs in the whole series means never.
    """
    test = _lab_test(spec)
    key = ("lab-ever-met", test)
    found: bool | None = ctx.memo.get(key)
    if found is None:
        meets = _meets(ctx, test)
        found = any(meets)
        if found and test.which != "unrecovered" and test.episodes > 1:
            runs, _ = _runs(ctx, test)
            found = runs >= test.episodes
        ctx.memo[key] = found
    return found


def lab_met_by(ctx: Context, spec: Mapping[str, Any], seen: int | None) -> bool:
    """False only when the lab test is not true for the patient as seen when `seen` values were recorded.

    `ctx` is the whole record; `seen` says how many of the test's series were recorded by the
    moment asked about (that moment's series is their prefix), or None when that is not a plain
    prefix (then the whole-record bound, `lab_ever_met`, answers). Each value's comparison depends
    on that value alone, so the whole series' answers hold for the prefix. The test is true only
    when the value it picks meets the comparison: for `latest` that is the prefix's last value
    (whatever `episodes_ge` adds, that value must meet it); for `worst` and `unrecovered` one of
    the prefix's values. No value at all is undecided (missing), never true.
    """
    if seen is None:
        return lab_ever_met(ctx, spec)
    if seen == 0:
        return False
    key = ("lab-test", id(spec))
    parsed: tuple[Mapping[str, Any], _LabTest] | None = ctx.memo.get(key)
    if parsed is None or parsed[0] is not spec:
        parsed = ctx.memo[key] = (spec, _lab_test(spec))
    test = parsed[1]
    meets = _meets(ctx, test)
    if test.which == "latest":
        return meets[seen - 1]
    first_key = ("lab-first-met", test)
    first: int | None = ctx.memo.get(first_key, -1)
    if first == -1:
        first = ctx.memo[first_key] = next((i for i, met in enumerate(meets) if met), None)
    return first is not None and first < seen


def _runs(ctx: Context, test: _LabTest) -> tuple[int, datetime | None]:
    """`_episodes` of the test's series (memoised: rules share tests, e.g. "CK > 5 x ULN")."""
    recovered = test.until if test.which != "unrecovered" else None
    key = ("lab-runs", test.analyte, test.of, test.op, test.threshold, recovered)
    found: tuple[int, datetime | None] | None = ctx.memo.get(key)
    if found is None:
        series = ctx.request.facts.labs.get(test.analyte, ())
        multiples = _multiples(ctx, test.analyte, test.of)
        found = ctx.memo[key] = _episodes(series, multiples, _meets(ctx, test), recovered)
    return found


def lab_condition(spec: Mapping[str, Any]) -> Condition:
    """The latest (or worst) value of an analyte against a ULN/baseline multiple or value."""
    test = _lab_test(spec)
    analyte, of, op, threshold, which = test.analyte, test.of, test.op, test.threshold, test.which
    until, episodes = test.until, test.episodes
    symbol = COMPARATORS[op][0]
    label = {"uln": "ULN", "baseline": "baseline", "value": ""}[of]
    name = analyte.upper() if len(analyte) <= 3 else analyte
    unit = str(spec.get("unit", ""))
    wording = (
        f"{name} {symbol} {threshold:g} {unit}"
        if of == "value"
        else f"{name} {symbol} {threshold:g} x {label}"
    )

    def run(ctx: Context) -> Outcome:
        series = ctx.request.facts.labs.get(analyte, ())
        if not series:
            return Outcome(None, missing=(f"{analyte} (no result on record; needed for {wording})",))
        latest = series[-1]
        oldest_ok = ctx.request.now - timedelta(days=ctx.lab_max_age_days)
        if latest.effective is not None and align(latest.effective, oldest_ok) < oldest_ok:
            return Outcome(
                None,
                missing=(
                    f"{analyte} (latest result {fmt_date(latest.effective)} is older than "
                    f"{ctx.lab_max_age_days} days; needed for {wording})",
                ),
            )
        multiples = _multiples(ctx, analyte, of)
        meets = _meets(ctx, test)
        if which == "unrecovered":
            return _unrecovered(ctx, series, multiples, meets, float(until or 0), of)
        index = len(series) - 1
        if which == "worst":
            worst = _worst(multiples)
            index = index if worst is None else worst
        chosen, value = series[index], multiples[index]
        if value is None:
            return Outcome(None, missing=(f"{analyte} {label} (not known; needed for {wording})",))
        if not meets[index]:
            return Outcome(False, rows=(_lab_row(ctx, chosen, of),))
        runs, onset = _runs(ctx, test)
        if runs < episodes:
            return Outcome(False, rows=(_lab_row(ctx, chosen, of),))
        if episodes > 1:
            rows = tuple(_lab_row(ctx, lab, of) for lab, met in zip(series, meets, strict=True) if met)
        else:
            rows = (_lab_row(ctx, chosen, of),)
        graded = ctx.lab_events.get(chosen.resource)
        return Outcome(
            True,
            rows=rows,
            grades=(graded.grade,) if graded else (),
            terms=(graded.term,) if graded else (analyte,),
            anchor=onset,
            # "<= 3 x ULN" (a recovery test) met by a normal value is no finding on its own.
            trigger=of == "value" or op in ("gt", "ge"),
            assumed=_assumed((chosen,), of),
        )

    return run
