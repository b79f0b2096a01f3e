"""Orders with phases (a lead-in, then the continuing dose): the dose read is the phase in force."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from terminology.dose import dosage_in_force, read_dose
from terminology.facts import build_facts
from terminology.model import DrugIdentity
from terminology.orders import read_order

UCUM = "http://unitsofmeasure.org"
START = datetime(2026, 1, 5, tzinfo=UTC)
BRIGATINIB = DrugIdentity("brigatinib", ("brigatinib",), rxnorm=("1921217",))


def _line(mg: float, sequence: int | None = None, **repeat: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "text": f"{mg:g} mg once daily",
        "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d", **repeat}},
        "doseAndRate": [{"doseQuantity": {"value": mg, "unit": "mg", "system": UCUM, "code": "mg"}}],
    }
    if sequence is not None:
        line["sequence"] = sequence
    return line


def _order(*lines: dict[str, Any], authored: str = "2026-01-05") -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": "mr-brig",
        "status": "active",
        "intent": "order",
        "authoredOn": authored,
        "medicationCodeableConcept": {"text": "brigatinib"},
        "dosageInstruction": list(lines),
    }


LEAD_IN = _line(90, 1, boundsDuration={"value": 7, "unit": "days", "system": UCUM, "code": "d"})
CONTINUING = _line(180, 2)


def test_lead_in_then_continuing_dose_by_day() -> None:
    order = _order(LEAD_IN, CONTINUING)
    assert read_dose(order, at=START + timedelta(days=3)).per_administration == 90
    assert read_dose(order, at=START + timedelta(days=7)).per_administration == 180  # day 8
    assert read_dose(order, at=START + timedelta(days=70)).per_administration == 180


def test_without_a_moment_or_before_the_start_the_first_phase_is_read() -> None:
    order = _order(LEAD_IN, CONTINUING)
    assert read_dose(order).per_administration == 90
    assert read_dose(order, at=START - timedelta(days=2)).per_administration == 90


def test_sequence_orders_the_phases_not_the_list() -> None:
    order = _order(CONTINUING, LEAD_IN)
    assert read_dose(order, at=START + timedelta(days=2)).per_administration == 90
    assert read_dose(order, at=START + timedelta(days=20)).per_administration == 180


def test_phases_with_their_own_periods() -> None:
    first = _line(90, 1, boundsPeriod={"start": "2026-02-01", "end": "2026-02-08"})
    then = _line(180, 2, boundsPeriod={"start": "2026-02-08"})
    order = _order(first, then, authored="2026-01-20")
    assert read_dose(order, at=datetime(2026, 2, 5, tzinfo=UTC)).per_administration == 90
    assert read_dose(order, at=datetime(2026, 2, 9, tzinfo=UTC)).per_administration == 180


def test_duration_in_weeks_and_the_order_start_from_the_validity_period() -> None:
    lead = _line(90, 1, boundsDuration={"value": 1, "unit": "wk", "system": UCUM, "code": "wk"})
    order = _order(lead, CONTINUING, authored="2025-12-20")
    order["dispenseRequest"] = {"validityPeriod": {"start": "2026-01-05"}}
    assert read_dose(order, at=START + timedelta(days=6)).per_administration == 90
    assert read_dose(order, at=START + timedelta(days=8)).per_administration == 180


def test_lines_sharing_a_sequence_are_one_phase() -> None:
    morning, evening = _line(450, 1, when=["MORN"]), _line(600, 1, when=["EVE"])
    order = _order(morning, evening)
    assert dosage_in_force(order, START + timedelta(days=30)) is morning


def test_read_order_and_build_facts_use_now() -> None:
    order = _order(LEAD_IN, CONTINUING)
    now = datetime(2026, 3, 16, 9, tzinfo=UTC)
    assert read_order(order, drugs=(BRIGATINIB,), now=now).dose.daily == 180
    assert read_order(order, drugs=(BRIGATINIB,)).dose.daily == 90
    (on_record,) = build_facts([order], drugs=(BRIGATINIB,), now=now).medications
    assert on_record.dose.per_administration == 180
    assert on_record.start is None or on_record.start.date().isoformat() == "2026-01-05"


def test_no_dosage_instruction_is_not_understood() -> None:
    dose = read_dose(_order(), at=START)
    assert not dose.understood and dose.problem == "no dosageInstruction"


def test_highest_daily_is_what_the_order_will_still_reach() -> None:
    order = _order(LEAD_IN, CONTINUING)
    in_lead_in = read_dose(order, at=START + timedelta(days=1))
    assert (in_lead_in.daily, in_lead_in.highest_daily) == (90, 180)
    assert read_dose(order, at=START + timedelta(days=30)).highest_daily is None  # last phase
    assert read_dose(_order(CONTINUING), at=START).highest_daily is None


def test_timing_written_only_as_code_text() -> None:
    cases = (("BID", 2), ("twice daily", 2), ("Every 12 hours", 2), ("q24h", 1), ("weekly-ish", None))
    for text, per_day in cases:
        line = _line(600)
        del line["text"]
        line["timing"] = {"code": {"text": text}}
        dose = read_dose(_order(line))
        assert dose.administrations_per_day == per_day, text
        assert dose.understood == (per_day is not None), text
