"""Switch suggestions: the alternative's first order carries its label starting regimen, as valid R4."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.medicationrequest import MedicationRequest

from cards.errors import KnowledgeError
from cards.loader import BUILTIN_DIR, load_file, load_knowledge
from cards.schema import RegimenStep, StartingRegimen
from cards.switching import regimen_dosages
from service.offline import evaluate_offline

SCENARIOS = Path(__file__).parents[1] / "scenarios"
NOW = datetime(2026, 3, 16, 10, 0, tzinfo=timezone(timedelta(hours=1)))
BRIGATINIB, LORLATINIB = "1921217", "2103164"


def _request(case: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCENARIOS / case / "request.json").read_text(encoding="utf-8"))
    return data


def _switches(response: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Suggestion label -> suggestion, for the switch suggestions of the alectinib card."""
    card = next(c for c in response["cards"] if c["source"]["topic"]["code"].startswith("alectinib."))
    return {s["label"]: s for s in card["suggestions"] if s["label"].startswith("Switch to")}


def _created(suggestion: dict[str, Any]) -> dict[str, Any]:
    (create,) = [a for a in suggestion["actions"] if a["type"] == "create"]
    resource: dict[str, Any] = create["resource"]
    MedicationRequest.model_validate(resource)  # valid FHIR R4 (R4B MedicationRequest is unchanged)
    return resource


def _regimen(resource: dict[str, Any]) -> list[tuple[int, float, int, int | None]]:
    """(sequence, dose mg, times a day, bounded days) per dosage instruction."""
    out = []
    for d in resource["dosageInstruction"]:
        repeat = d["timing"]["repeat"]
        bound = repeat.get("boundsDuration")
        assert d["doseAndRate"][0]["doseQuantity"]["code"] == "mg"
        if bound:
            assert (bound["unit"], bound["code"], bound["system"]) == ("d", "d", "http://unitsofmeasure.org")
        out.append(
            (
                d["sequence"],
                d["doseAndRate"][0]["doseQuantity"]["value"],
                repeat["frequency"],
                bound["value"] if bound else None,
            )
        )
    return out


def test_sjs_switch_drafts_brigatinib_with_lead_in_and_lorlatinib() -> None:
    switches = _switches(evaluate_offline(_request("alectinib-sjs-switch-drafts"), now=NOW))
    assert set(switches) == {"Switch to brigatinib", "Switch to lorlatinib"}
    for suggestion in switches.values():
        deletes = [a for a in suggestion["actions"] if a["type"] == "delete"]
        assert [a["resourceId"] for a in deletes] == ["MedicationRequest/draft-alec"]
    brig = _created(switches["Switch to brigatinib"])
    lorl = _created(switches["Switch to lorlatinib"])
    assert _regimen(brig) == [(1, 90, 1, 7), (2, 180, 1, None)]
    assert _regimen(lorl) == [(1, 100, 1, None)]
    for resource, code in ((brig, BRIGATINIB), (lorl, LORLATINIB)):
        assert resource["status"] == "draft" and resource["intent"] == "proposal"
        assert resource["subject"] == {"reference": "Patient/p-2001"}
        assert resource["medicationCodeableConcept"]["coding"][0]["code"] == code
        assert "prescriber to complete" in resource["note"][0]["text"]
        assert all(d["route"] == {"text": "oral"} for d in resource["dosageInstruction"])
    assert brig["dosageInstruction"][1]["text"] == "180 mg once daily from day 8"


def test_patient_view_switch_stops_the_active_order_and_drafts_the_regimen() -> None:
    switches = _switches(evaluate_offline(_request("alectinib-desensitization-failed"), now=NOW))
    suggestion = switches["Switch to brigatinib"]
    updates = [a["resource"] for a in suggestion["actions"] if a["type"] == "update"]
    assert updates and all(u["status"] == "stopped" for u in updates)
    assert _regimen(_created(suggestion)) == [(1, 90, 1, 7), (2, 180, 1, None)]


def _site_with(tmp_path: Path, drug: str, old: str, new: str) -> Path:
    text = (BUILTIN_DIR / f"{drug}.toml").read_text(encoding="utf-8")
    assert old in text
    (tmp_path / f"{drug}.toml").write_text(text.replace(old, new, 1), encoding="utf-8")
    return tmp_path


def test_unconfirmed_regimen_gives_a_text_only_draft(tmp_path: Path) -> None:
    site = _site_with(
        tmp_path,
        "brigatinib",
        'source = "alunbrig-label"\nnote',
        'source = "alunbrig-label"\nverified = false\nnote',
    )
    knowledge = load_knowledge(site)
    switches = _switches(
        evaluate_offline(_request("alectinib-sjs-switch-drafts"), knowledge=knowledge, now=NOW)
    )
    brig = _created(switches["Switch to brigatinib"])
    assert brig["dosageInstruction"] == [{"text": "Dose per the prescribing information."}]
    assert "set the dose" in brig["note"][0]["text"]
    assert _regimen(_created(switches["Switch to lorlatinib"])) == [(1, 100, 1, None)]


def test_site_regimen_change_reaches_the_switch_order(tmp_path: Path) -> None:
    site = _site_with(
        tmp_path,
        "lorlatinib",
        "steps = [{ dose = 100, per_day = 1 }]",
        "steps = [{ dose = 75, per_day = 1 }]",
    )
    switches = _switches(
        evaluate_offline(_request("alectinib-sjs-switch-drafts"), knowledge=load_knowledge(site), now=NOW)
    )
    assert _regimen(_created(switches["Switch to lorlatinib"])) == [(1, 75, 1, None)]


def test_regimen_dosages_bound_every_lead_in_phase() -> None:
    regimen = StartingRegimen(
        steps=(
            RegimenStep(dose=20, per_day=1, days=3),
            RegimenStep(dose=40, per_day=1, days=4),
            RegimenStep(dose=60, per_day=2),
        ),
        source="x",
    )
    texts = [d["text"] for d in regimen_dosages(regimen)]
    assert texts == [
        "20 mg once daily for 3 days",
        "40 mg once daily for 4 days from day 4",
        "60 mg twice daily from day 8",
    ]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("{ dose = 180, per_day = 1 }]", "{ dose = 180, per_day = 1, days = 30 }]", "continuing dose"),
        ("{ dose = 90, per_day = 1, days = 7 }", "{ dose = 90, per_day = 1 }", "needs `days`"),
        ('source = "alunbrig-label"\nnote', 'source = "nowhere"\nnote', "starting_regimen.source"),
    ],
)
def test_broken_regimen_names_the_field(tmp_path: Path, old: str, new: str, message: str) -> None:
    path = _site_with(tmp_path, "brigatinib", old, new) / "brigatinib.toml"
    with pytest.raises(KnowledgeError) as caught:
        load_file(path)
    assert message in str(caught.value)
