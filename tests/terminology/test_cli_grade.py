"""`toxhooks grade` and `toxhooks terms --gradable` print graded events with evidence and the term list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from service.cli import grade as grade_cli
from terminology.model import DrugIdentity

BUNDLE = Path(__file__).parent / "golden" / "bundle.json"


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    drugs = (DrugIdentity("alectinib", ("alectinib",), rxnorm=("1727479",)),)
    monkeypatch.setattr(grade_cli, "_drugs", lambda: drugs)
    monkeypatch.delenv("TOXHOOKS_CTCAE_VERSION", raising=False)
    application = typer.Typer()
    grade_cli.register(application)
    return application


def test_grade_prints_events_with_evidence(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["grade", str(BUNDLE)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "CTCAE v5.0" in out
    assert "CPK increased: current grade 3, worst grade 3" in out
    assert "Observation/ck-3  18.5 ukat/L -> 1110 U/L ULN=200 (default range) x5.55" in out
    assert "Grade 3: >5 x ULN - 10 x ULN" in out
    assert "suspect: alectinib; qualifiers: symptomatic=yes" in out
    assert "Observation/ck-4  ck: status entered-in-error" in out


def test_grade_json_and_version(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["grade", str(BUNDLE), "--json", "--version", "6.0"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["ctcae_version"] == "6.0"
    assert "Rash maculo-papular" in data["timelines"] and "CPK increased" not in data["timelines"]
    event = data["timelines"]["Creatinine increased"]["events"][0]
    assert event["ctcae_version"] == "6.0" and event["evidence"]["reference_kind"] == "ULN"
    assert data["medications"][0]["drug"] == "alectinib"


def test_grade_rejects_bad_input(app: typer.Typer, tmp_path: Path) -> None:
    broken = tmp_path / "x.json"
    broken.write_text("{not json")
    assert CliRunner().invoke(app, ["grade", str(broken)]).exit_code == 2
    assert CliRunner().invoke(app, ["grade", str(BUNDLE), "--version", "4.0"]).exit_code == 2


@pytest.mark.parametrize(("version", "count"), [("5.0", 39), ("6.0", 35)])
def test_terms_gradable_lists_terms_with_count(app: typer.Typer, version: str, count: int) -> None:
    result = CliRunner().invoke(app, ["terms", "--gradable", "--version", version])
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert lines[-1] == f"{count} gradable terms in CTCAE v{version}"
    assert len(lines) == count + 1


def test_terms_lists_the_whole_table(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["terms"])
    assert result.output.strip().splitlines()[-1] == "837 terms in CTCAE v5.0"
