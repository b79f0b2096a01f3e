"""Monitoring that follows the patient: open-ended schedules, interruptions, windows and the card."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from cards.monitoring import review_monitoring
from cards.monitoring_card import monitoring_card
from cards.schedule import build_course, scheduled_days
from terminology.model import Assessment, LabResult, MedicationOrder, PatientFacts
from tests.cards.builders import NOW, days_ago, facts, lab, order, request
from tests.cards.helpers import knowledge, run

AVD = "avutometinib-defactinib"
LABS = ("alt", "ast", "bilirubin", "alp", "ck")
TODAY = NOW.date()


def spec(drug: str):  # type: ignore[no-untyped-def]
    return knowledge().drugs[drug].spec


def item(drug: str, ident: str):  # type: ignore[no-untyped-def]
    return next(m for m in spec(drug).monitoring if m.id == ident)


def labs_on(*ages: float, analytes: tuple[str, ...] = LABS) -> tuple[LabResult, ...]:
    return tuple(lab(a, 20, 40, days_ago(age), ident=f"{a}-{age}") for age in ages for a in analytes)


def eye_exam(age: float) -> Assessment:
    return Assessment(
        resource=f"Procedure/eye-{age}",
        kind="procedure",
        effective=days_ago(age),
        texts=("Ophthalmology exam",),
    )


def on_record(start_age: float, **kw: object) -> MedicationOrder:
    return order(
        AVD, 200, 2, ident=f"avd-{start_age}", draft=False, status="active", start=days_ago(start_age), **kw
    )  # type: ignore[arg-type]


def monitoring_cards(hook: str, patient: PatientFacts, *drafts: MedicationOrder, **kw: object):  # type: ignore[no-untyped-def]
    cards = run(request(hook, patient, *drafts, **kw), monitoring=True)  # type: ignore[arg-type]
    return [c for c in cards if c.rule_ids[0].endswith(".monitoring.schedule")]


# ---------------------------------------------------------------- schedules have no arbitrary end


def test_eye_exams_continue_every_three_cycles_without_end() -> None:
    days = scheduled_days(item(AVD, "ophthalmic-exam"), 28, 28 * 20)
    cycles = [s.cycle for s in days if s.cycle]
    assert days[0].day == 0  # baseline
    assert cycles == [2, 5, 8, 11, 14, 17, 20]


def test_liver_tests_before_every_cycle_and_day_15_of_cycles_1_to_4() -> None:
    days = scheduled_days(item(AVD, "alt"), 28, 28 * 9)
    labels = [s.label for s in days]
    assert labels[:4] == ["baseline", "cycle 1 day 15", "before cycle 2", "cycle 2 day 15"]
    assert "cycle 5 day 15" not in labels and "before cycle 10" in labels  # no cap at cycle 6


def test_alectinib_liver_tests_fortnightly_for_3_months_then_monthly_and_cpk_in_month_1_only() -> None:
    liver = [s.day for s in scheduled_days(item("alectinib", "alt"), None, 200)]
    assert liver == [0, 14, 28, 42, 56, 70, 84, 112, 140, 168, 196]
    assert [s.day for s in scheduled_days(item("alectinib", "ck"), None, 200)] == [14, 28]


# ---------------------------------------------------------------- the course: interruptions shift


def test_planned_week_off_between_cycle_orders_is_not_an_interruption() -> None:
    c1 = on_record(49, end=days_ago(29))  # 21 days given
    c2 = replace(on_record(21), reference="MedicationRequest/c2")
    course = build_course([c1, c2], today=TODAY, cycle_days=28, days_on=21)
    assert course is not None and course.paused == ()
    assert course.date_of(28) == days_ago(21).date()


def test_a_gap_in_the_orders_pauses_the_schedule() -> None:
    c1 = replace(on_record(60, end=days_ago(50)), status="stopped")  # stopped on day 10
    c2 = on_record(43)  # resumed 7 days later
    course = build_course([c1, c2], today=TODAY, cycle_days=28, days_on=21)
    assert course is not None and course.paused_days == 6
    assert course.date_of(28) == days_ago(60).date() + timedelta(days=28 + 6)


def test_an_on_hold_period_pauses_the_schedule() -> None:
    first = on_record(40)
    hold = replace(on_record(20, end=days_ago(15)), status="on-hold", reference="MedicationRequest/h")
    resumed = replace(on_record(14), reference="MedicationRequest/r")
    course = build_course([first, hold, resumed], today=TODAY)
    assert course is not None and course.paused == ((days_ago(20).date(), days_ago(15).date()),)
    assert course.day_of(TODAY) == 40 - 6


def test_stopped_order_without_end_is_not_read_as_a_gap() -> None:
    stopped = replace(on_record(40), status="stopped")
    later = replace(on_record(10), reference="MedicationRequest/later")
    course = build_course([stopped, later], today=TODAY)
    assert course is not None and course.paused == ()
    assert course.unknown_ends == (stopped.reference,)


# ---------------------------------------------------------------- due, done, overdue, soon


def _review(patient: PatientFacts, orders: tuple[MedicationOrder, ...], **kw: object):  # type: ignore[no-untyped-def]
    found = review_monitoring(spec(AVD), patient, now=NOW, orders=orders, **kw)  # type: ignore[arg-type]
    assert found is not None
    return found


def test_sixteen_days_in_with_no_labs_since_the_start_gets_a_card() -> None:
    # Day 16: the day-15 window (+/- 2 days) is still open: due now (info).
    start = on_record(16)
    patient = replace(facts(labs=labs_on(17), medications=(start,)), assessments=(eye_exam(17),))
    [card] = monitoring_cards("patient-view", patient)
    assert card.card.indicator == "info" and "due ALT, AST, bilirubin, ALP, CPK" in card.card.summary
    # Day 17: the window has closed: overdue (warning), ordered for today.
    start = on_record(17)
    patient = replace(facts(labs=labs_on(18), medications=(start,)), assessments=(eye_exam(18),))
    cards = monitoring_cards("patient-view", patient)
    assert len(cards) == 1 and cards[0].card.indicator == "warning"
    assert "overdue ALT, AST, bilirubin, ALP, CPK" in cards[0].card.summary
    requests = [a.resource for s in cards[0].card.suggestions or () for a in s.actions or ()]
    assert len(requests) == 5
    assert all(r and r["occurrenceDateTime"] == TODAY.isoformat() for r in requests)
    assert {r["code"]["coding"][0]["system"] for r in requests if r} == {"http://loinc.org"}


def test_everything_on_time_is_quiet() -> None:
    start = on_record(20)
    patient = replace(facts(labs=labs_on(21, 6), medications=(start,)), assessments=(eye_exam(22),))
    assert monitoring_cards("patient-view", patient) == []


def test_a_late_result_still_counts_as_done() -> None:
    start = on_record(22)
    # Day 15 fell 7 days ago (window to 5 days ago); the tests were drawn 3 days ago: late, not overdue.
    patient = replace(facts(labs=labs_on(23, 3), medications=(start,)), assessments=(eye_exam(23),))
    review = _review(patient, (start,))
    day15 = [o for o in review.occurrences if o.scheduled.label == "cycle 1 day 15"]
    assert {o.status for o in day15} == {"late"}
    cards = monitoring_cards("patient-view", patient)  # at most the pre-cycle-2 tests coming up
    assert all("overdue" not in c.card.summary for c in cards)


def test_due_soon_is_info_with_the_window_as_period() -> None:
    start = on_record(12)  # day 15 is in 3 days, window opens in 1
    patient = replace(facts(labs=labs_on(13), medications=(start,)), assessments=(eye_exam(13),))
    [card] = monitoring_cards("patient-view", patient)
    assert card.card.indicator == "info" and "due ALT" in card.card.summary
    resource = (card.card.suggestions or ())[0].actions[0].resource  # type: ignore[index]
    due = days_ago(12).date() + timedelta(days=14)
    assert resource is not None and resource["occurrencePeriod"] == {
        "start": (due - timedelta(days=2)).isoformat(),
        "end": (due + timedelta(days=2)).isoformat(),
    }


def test_exam_data_not_obtained_is_not_called_overdue() -> None:
    start = on_record(20)
    patient = facts(labs=labs_on(21, 6), medications=(start,))
    [card] = monitoring_cards("patient-view", patient, unavailable=("procedures",))
    assert card.card.indicator == "info"
    assert "not checked, no data: eye exam" in card.card.summary
    assert "overdue" not in card.card.summary
    # Obtained and empty: the baseline exam is then really missing.
    [card] = monitoring_cards("patient-view", patient)
    assert card.card.indicator == "warning" and "overdue eye exam" in card.card.summary


def test_new_cycle_order_without_pre_cycle_tests_is_a_warning_shown_once() -> None:
    c1 = on_record(28, end=days_ago(8))
    patient = replace(facts(labs=labs_on(29, 14), medications=(c1,)), assessments=(eye_exam(30),))
    draft = order(AVD, 200, 2, ident="c2", start=NOW)
    [select] = monitoring_cards("order-select", patient, draft)
    assert select.card.indicator == "warning" and "missing before cycle 2" in select.card.summary
    [sign] = monitoring_cards("order-sign", patient, draft)
    assert sign.dedupe_key == select.dedupe_key  # the service does not show it again at sign
    other = order(AVD, 150, 2, ident="c2", start=NOW)
    [changed] = monitoring_cards("order-sign", patient, other)
    assert changed.dedupe_key != select.dedupe_key


def test_pre_cycle_tests_done_make_the_new_cycle_order_quiet() -> None:
    c1 = on_record(28, end=days_ago(8))
    patient = replace(
        facts(labs=labs_on(29, 14, 1), medications=(c1,)), assessments=(eye_exam(30), eye_exam(1))
    )
    assert monitoring_cards("order-select", patient, order(AVD, 200, 2, ident="c2", start=NOW)) == []


def test_held_therapy_gets_no_follow_up_card() -> None:
    held = replace(on_record(40), status="on-hold")
    assert monitoring_cards("patient-view", facts(medications=(held,))) == []


def test_first_order_keeps_the_whole_schedule_card() -> None:
    cards = run(request("order-select", facts(), order(AVD, 200, 2, start=days_ago(-2))), monitoring=True)
    assert [c.rule_ids for c in cards if c.decision == "monitor"] == [("avutometinib-defactinib.monitoring",)]


def test_alectinib_month_two_lists_liver_tests_not_cpk() -> None:
    start = order("alectinib", 600, 2, ident="alec", draft=False, status="active", start=days_ago(56))
    labs = (*labs_on(57, 42, 28, analytes=("alt", "ast", "bilirubin", "ck")),)
    [card] = monitoring_cards("patient-view", facts(labs=labs, medications=(start,)))
    assert "overdue ALT, AST, bilirubin" in card.card.summary and "CPK" not in card.card.summary


def test_baseline_may_be_drawn_two_weeks_before_the_first_dose() -> None:
    start = on_record(3)
    patient = replace(facts(labs=labs_on(14), medications=(start,)), assessments=(eye_exam(12),))
    assert monitoring_cards("patient-view", patient) == []
    too_old = replace(facts(labs=labs_on(20), medications=(start,)), assessments=(eye_exam(12),))
    [card] = monitoring_cards("patient-view", too_old)
    assert "ALT" in card.card.summary


def test_a_pause_still_running_keeps_the_next_dates_ahead() -> None:
    # Cycle 1 given days 0-20, planned break, then no order yet: cycle 2 waits, it is not in the past.
    c1 = replace(on_record(35, end=days_ago(15)), status="completed")
    course = build_course([c1], today=TODAY, cycle_days=28, days_on=21)
    assert course is not None and course.paused == ((days_ago(7).date(), TODAY),)
    assert course.day_of(TODAY) == 28
    assert course.date_of(28) == TODAY + timedelta(days=1)


def test_a_file_without_monitoring_policy_uses_the_default_window_labelled_local_policy() -> None:
    bare = spec("alectinib").model_copy(update={"monitoring_policy": None})
    start = order("alectinib", 600, 2, ident="alec", draft=False, status="active", start=days_ago(20))
    review = review_monitoring(bare, facts(labs=labs_on(21)), now=NOW, orders=(start,))
    assert review is not None and review.policy.window.local_policy
    card = monitoring_card(review, replace(knowledge().drugs["alectinib"], spec=bare))
    assert card is not None and "(local policy)" in (card.card.detail or "")
    assert "overdue ALT, AST, bilirubin" in card.card.summary


def test_two_drafts_of_one_regimen_get_one_monitoring_card() -> None:
    c1 = on_record(28, end=days_ago(8))
    patient = replace(facts(labs=labs_on(29, 14), medications=(c1,)), assessments=(eye_exam(30),))
    first = order(AVD, 200, 2, ident="avutometinib", start=NOW)
    second = order(AVD, 200, 2, ident="defactinib", start=NOW)
    assert len(monitoring_cards("order-sign", patient, first, second)) == 1


def test_an_eye_exam_up_to_four_weeks_before_the_start_is_the_baseline() -> None:
    start = on_record(5)
    patient = replace(facts(labs=labs_on(6), medications=(start,)), assessments=(eye_exam(25),))
    assert monitoring_cards("patient-view", patient) == []
    patient = replace(patient, assessments=(eye_exam(40),))
    [card] = monitoring_cards("patient-view", patient)
    assert "overdue eye exam" in card.card.summary


def test_pre_cycle_labs_may_be_drawn_three_days_before_the_cycle() -> None:
    c1 = on_record(28, end=days_ago(8))
    draft = order(AVD, 200, 2, ident="c2", start=NOW)
    exams = (eye_exam(30), eye_exam(6))  # pre-cycle eye exam: from 7 days before
    patient = replace(facts(labs=labs_on(29, 14, 3), medications=(c1,)), assessments=exams)
    assert monitoring_cards("order-sign", patient, draft) == []
    patient = replace(facts(labs=labs_on(29, 14, 4), medications=(c1,)), assessments=exams)
    [card] = monitoring_cards("order-sign", patient, draft)
    assert card.card.indicator == "warning" and "missing before cycle 2: ALT" in card.card.summary


def test_alectinib_first_order_asks_for_baseline_liver_tests_unless_on_record() -> None:
    draft = order("alectinib", 600, 2, ident="alec", start=days_ago(-1))
    [card] = monitoring_cards("order-select", facts(), draft)
    assert card.card.indicator == "info" and "due ALT, AST, bilirubin" in card.card.summary
    assert "CPK" not in card.card.summary  # CPK starts at week 2
    recent = labs_on(5, analytes=("alt", "ast", "bilirubin"))
    assert monitoring_cards("order-select", facts(labs=recent), draft) == []


def test_the_card_links_to_the_timeline_of_its_rule() -> None:
    start = on_record(17)
    patient = replace(facts(labs=labs_on(18), medications=(start,)), assessments=(eye_exam(18),))
    cards = run(request("patient-view", patient, smart="https://t/smart/launch"), monitoring=True)
    [card] = [c for c in cards if c.decision == "monitor"]
    [link] = card.card.links or ()
    assert link.type == "smart" and f'"rule": "{card.rule_ids[0]}"' in (link.appContext or "")


# ---------------------------------------------------------------- clinical review fixes


def _alectinib(start_age: float) -> MedicationOrder:
    return order("alectinib", 600, 2, ident="alec", draft=False, status="active", start=days_ago(start_age))


def test_the_card_reads_in_a_few_lines_with_one_source_line() -> None:
    # Cycle 2 day 1 after a week-long gap, no labs since baseline: five labs overdue, eye exam due.
    c1 = on_record(35, end=days_ago(22))
    c2 = on_record(14)
    patient = replace(facts(labs=labs_on(36), medications=(c1, c2)), assessments=(eye_exam(37),))
    [card] = monitoring_cards("patient-view", patient)
    lines = (card.card.detail or "").splitlines()
    assert len(lines) <= 7 and len(card.card.detail or "") < 700
    assert sum(line.startswith("- ") for line in lines) <= 4
    assert [line for line in lines if line.startswith("Source: ")] == [lines[-1]]
    assert "(local policy)" in lines[-1] and "Sources:" not in (card.card.detail or "")
    assert "Liver tests before each cycle" not in (card.card.detail or "")  # the prose stays in the orders
    assert any(line.startswith("- Overdue ALT, AST, bilirubin, ALP, CPK: before cycle 2") for line in lines)
    assert any(line.startswith("Interrupted ") for line in lines)


def test_more_than_four_groups_are_counted_not_listed() -> None:
    review = _review(facts(), (on_record(16),), look_ahead_days=0)
    items = tuple(replace(s, state="overdue", since=TODAY) for s in review.items if s.occurrence)
    distinct = tuple(  # give each item its own history so that none share a line
        replace(s, last_result=TODAY - timedelta(days=i + 1)) for i, s in enumerate(items)
    )
    card = monitoring_card(replace(review, items=distinct), knowledge().drugs[AVD])
    assert card is not None
    tests = [line for line in (card.card.detail or "").splitlines() if line.startswith("- ")]
    assert len(tests) == 4 and tests[-1].startswith(f"- and {len(distinct) - 3} more")
    assert len([a for s in card.card.suggestions or () for a in s.actions or ()]) == len(distinct)


def test_blood_pressure_is_done_by_a_systolic_reading_and_continues_monthly() -> None:
    lorlatinib = spec("lorlatinib")
    bp = item("lorlatinib", "blood-pressure")
    assert [s.day for s in scheduled_days(bp, None, 400)][:3] == [14, 44, 74]
    assert scheduled_days(bp, None, 400)[-1].day == 374  # no end while therapy continues
    start = on_record(50)
    readings = tuple(
        replace(lab("systolic-bp", 128, 0, days_ago(age), ident=f"sbp-{age}"), unit="mm[Hg]")
        for age in (36, 6)
    )
    lipids = labs_on(51, 21, analytes=("cholesterol", "triglycerides"))
    review = review_monitoring(lorlatinib, facts(labs=(*readings, *lipids)), now=NOW, orders=(start,))
    assert review is not None
    assert {s.item.id: s.state for s in review.items}["blood-pressure"] == "ok"
    review = review_monitoring(lorlatinib, facts(labs=lipids), now=NOW, orders=(start,))
    assert review is not None and {s.item.id: s.state for s in review.items}["blood-pressure"] == "overdue"


def test_the_last_test_of_an_ended_schedule_is_history_after_its_interval() -> None:
    # Alectinib CPK: weeks 2 and 4 only ("during the first month"); liver tests monthly on.
    liver = ("alt", "ast", "bilirubin")
    day_38 = review_monitoring(
        spec("alectinib"), facts(labs=labs_on(39, 24, analytes=liver)), now=NOW, orders=(_alectinib(38),)
    )
    assert day_38 is not None
    assert {s.item.id: s.state for s in day_38.items}["ck"] == "overdue"  # day 28 missed: still owed
    day_45 = review_monitoring(
        spec("alectinib"), facts(labs=labs_on(46, 31, 3, analytes=liver)), now=NOW, orders=(_alectinib(45),)
    )
    assert day_45 is not None
    states = {s.item.id: s.state for s in day_45.items}
    assert states["ck"] == "ok"  # 14 days after day 28 (+ the window): history, not an order today
    assert [o.status for o in day_45.occurrences if o.item.id == "ck"] == ["missed", "missed"]


def test_an_order_starting_three_days_before_the_cycle_starts_it() -> None:
    c1 = on_record(25, end=days_ago(5))
    patient = replace(facts(labs=labs_on(26, 11), medications=(c1,)), assessments=(eye_exam(27),))
    draft = order(AVD, 200, 2, ident="c2", start=NOW)  # cycle 2 starts in 3 days
    review = _review(patient, (c1,), draft=draft)
    assert review.new_cycle == 2
    assert {s.item.id for s in review.pre_cycle_missing} == {"ophthalmic-exam", *LABS}


def test_baseline_and_pre_cycle_tests_are_ordered_by_their_day_not_after_it() -> None:
    planned = on_record(-2)  # first dose in 2 days, nothing on record
    [card] = monitoring_cards("patient-view", facts(medications=(planned,)))
    assert card.card.indicator == "info" and "baseline" in (card.card.detail or "")
    actions = [a for s in card.card.suggestions or () for a in s.actions or ()]
    periods = {(a.resource or {})["occurrencePeriod"]["end"] for a in actions}
    assert periods == {(TODAY + timedelta(days=2)).isoformat()}  # not the window's 2 days after


def test_a_stopped_order_without_end_is_one_plain_line_without_resource_ids() -> None:
    stopped = order(AVD, 200, 2, ident="avd-old", draft=False, status="stopped", start=days_ago(40))
    current = on_record(20)
    patient = replace(facts(labs=labs_on(41), medications=(stopped, current)), assessments=(eye_exam(41),))
    [card] = monitoring_cards("patient-view", patient)
    detail = card.card.detail or ""
    assert "read as running until the next one" in detail and "MedicationRequest/" not in detail


def test_first_order_schedule_card_is_short_and_does_not_reorder_a_baseline_on_record() -> None:
    draft = order(AVD, 200, 2, start=days_ago(-2))
    first_dose = (TODAY + timedelta(days=2)).isoformat()
    patient = replace(facts(labs=labs_on(1)), assessments=(eye_exam(5),))
    [card] = [
        c for c in run(request("order-select", patient, draft), monitoring=True) if c.decision == "monitor"
    ]
    lines = (card.card.detail or "").splitlines()
    assert len(lines) <= 6 and len(card.card.detail or "") < 600
    assert "- ALT, AST, bilirubin, ALP, CPK: baseline on record" in (card.card.detail or "")
    timings = [
        (a.resource or {})["occurrenceTiming"]["event"]
        for s in card.card.suggestions or ()
        for a in s.actions or ()
    ]
    assert len(timings) == 6 and all(first_dose not in events for events in timings)
    # Without the baseline on record, it is ordered for the first dose.
    [card] = [
        c for c in run(request("order-select", facts(), draft), monitoring=True) if c.decision == "monitor"
    ]
    timings = [
        (a.resource or {})["occurrenceTiming"]["event"]
        for s in card.card.suggestions or ()
        for a in s.actions or ()
    ]
    assert all(events[0] == first_dose for events in timings)
