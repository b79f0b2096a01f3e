"""The offline path (same pipeline as HTTP) and the `toxhooks` commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cards.loader import load_knowledge
from service.cli import app as cli
from service.errors import MalformedRequest, PreconditionFailed
from service.offline import evaluate_offline
from service.settings import Settings
from tests.scenarios.test_scenarios import NOW as SCENARIO_NOW
from tests.service.conftest import MakeClient
from tests.service.examples import hook_request
from tests.service.fakes import FROZEN_NOW, FakeEngine, LabKnowledge
from tests.service.spec import assert_valid_response, normalise_uuids

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "request.json").exists())
runner = CliRunner()


@pytest.mark.parametrize("case", CASES)
async def test_offline_matches_http(
    case: str, make_client: MakeClient, svc_settings: Settings, fake_engine: FakeEngine
) -> None:
    spec = json.loads((GOLDEN / case / "request.json").read_text())
    settings = svc_settings.model_copy(update={"public_base_url": "http://toxhooks.test"})
    client = await make_client(settings)
    over_http = (await client.post(f"/cds-services/{spec['service']}", json=spec["body"])).json()
    offline = evaluate_offline(
        spec["body"], settings=settings, knowledge=LabKnowledge(version="test-1"), now=FROZEN_NOW,
        service_id=spec["service"],
    )  # fmt: skip
    assert normalise_uuids(offline) == normalise_uuids(over_http)


@pytest.mark.parametrize("case", CASES)
def test_real_knowledge_answers_are_valid(case: str, svc_settings: Settings) -> None:
    """The built-in rules on every example: whatever they say must be a valid CDS response."""
    spec = json.loads((GOLDEN / case / "request.json").read_text())
    response = evaluate_offline(
        spec["body"], settings=svc_settings, knowledge=load_knowledge(), now=FROZEN_NOW
    )
    assert_valid_response(response)


def test_offline_raises_the_error_hierarchy(svc_settings: Settings) -> None:
    with pytest.raises(MalformedRequest) as bad:
        evaluate_offline({"hook": "patient-view"}, settings=svc_settings, knowledge=LabKnowledge())
    assert bad.value.field == "hookInstance"
    with pytest.raises(PreconditionFailed) as missing:
        evaluate_offline(
            hook_request("patient-view", prefetch={}), settings=svc_settings, knowledge=LabKnowledge()
        )
    assert missing.value.missing == ("labs",)


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TOXHOOKS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("TOXHOOKS_LOG_JSON", "false")
    monkeypatch.delenv("TOXHOOKS_DEV", raising=False)
    monkeypatch.delenv("TOXHOOKS_TRUSTED_ISSUERS", raising=False)
    return tmp_path


def test_evaluate_prints_the_response(cli_env: Path, fake_engine: FakeEngine) -> None:
    path = cli_env / "request.json"
    path.write_text(json.dumps(hook_request("order-sign")))
    result = runner.invoke(cli, ["evaluate", str(path)])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert_valid_response(body)
    assert body["cards"][0]["summary"].startswith("Check toxicity before order-sign")


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ("{", "body"),
        (json.dumps({"hook": "patient-view"}), "hookInstance"),
        (json.dumps({"hook": "x"}), "hook"),
    ],
)
def test_evaluate_errors_are_outcomes(content: str, field: str, cli_env: Path) -> None:
    path = cli_env / "request.json"
    path.write_text(content)
    result = runner.invoke(cli, ["evaluate", str(path)])
    assert result.exit_code == 1
    outcome: dict[str, Any] = json.loads(result.stderr)
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == [field]
    assert result.stdout == ""


def test_evaluate_missing_data_is_reported(cli_env: Path) -> None:
    path = cli_env / "request.json"
    path.write_text(json.dumps(hook_request("patient-view", prefetch={})))
    result = runner.invoke(cli, ["evaluate", str(path)])
    assert result.exit_code == 1
    assert json.loads(result.stderr)["issue"][0]["expression"] == ["labs"]


def test_serve_refuses_to_start_without_issuers(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Any] = []
    monkeypatch.setattr("service.cli.serve.uvicorn.run", lambda *a, **k: started.append((a, k)))
    result = runner.invoke(cli, ["serve"])
    assert result.exit_code == 2
    assert "refusing to start" in result.stderr and "trusted issuers" in result.stderr
    assert started == []


def test_serve_dev_binds_loopback_with_a_warning(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Any] = []
    monkeypatch.setattr("service.cli.serve.uvicorn.run", lambda *a, **k: started.append(k))
    result = runner.invoke(cli, ["serve", "--dev", "--port", "9123"])
    assert result.exit_code == 0, result.output
    assert "WITHOUT authentication" in result.stderr
    assert started == [
        {"host": "127.0.0.1", "port": 9123, "log_config": None, "timeout_graceful_shutdown": 20}
    ]
    refused = runner.invoke(cli, ["serve", "--dev", "--host", "0.0.0.0"])
    assert refused.exit_code == 2


def test_db_upgrade_and_feedback_stats(cli_env: Path) -> None:
    assert runner.invoke(cli, ["db", "current"]).stdout.strip() == "none"
    upgraded = runner.invoke(cli, ["db", "upgrade"])
    assert upgraded.exit_code == 0 and "0001" in upgraded.stdout
    assert runner.invoke(cli, ["db", "current"]).stdout.strip() == "0001"
    stats = runner.invoke(cli, ["feedback", "stats"])
    assert stats.exit_code == 0
    assert "(no feedback stored)" in stats.stdout


def test_help_documents_every_command() -> None:
    result = runner.invoke(cli, ["--help"])
    for command in ("serve", "evaluate", "feedback", "db"):
        assert command in result.stdout
    assert "--fhir-server" in runner.invoke(cli, ["evaluate", "--help"]).stdout


def test_feedback_stats_prints_rates_per_service_and_rule(cli_env: Path) -> None:
    import asyncio
    from datetime import UTC, datetime

    from service.feedback_entries import parse_feedback
    from service.storage.database import create_engine, upgrade
    from service.storage.feedback_store import FeedbackStore
    from service.storage.issued import IssuedCard

    card = "00000000-0000-0000-0000-00000000000a"
    at = datetime(2026, 3, 14, tzinfo=UTC)

    async def seed() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{cli_env / 'cli.db'}")
        await upgrade(engine)
        store = FeedbackStore(engine)
        await store.record_issued(
            [IssuedCard(card, "toxhooks-order-sign", "order-sign", None, "withhold", ("r.ck",), at, None)]
        )
        for outcome, when in (("accepted", "2026-03-14T09:00:00Z"), ("overridden", "2026-03-14T10:00:00Z")):
            entry = {"card": card, "outcome": outcome, "outcomeTimestamp": when}
            await store.store("toxhooks-order-sign", parse_feedback({"feedback": [entry]}), at)
        await engine.dispose()

    asyncio.run(seed())
    result = runner.invoke(cli, ["feedback", "stats"])
    assert result.exit_code == 0
    lines = {line.split()[1]: line.split() for line in result.stdout.splitlines()[2:]}
    assert lines["toxhooks-order-sign"][2:] == ["1", "1", "2", "50.0%", "50.0%"]
    assert lines["r.ck"][0] == "rule" and lines["r.ck"][2:4] == ["1", "1"]


def test_serve_refuses_a_schema_revision_it_does_not_know(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    started: list[Any] = []
    monkeypatch.setattr("service.cli.serve.uvicorn.run", lambda *a, **k: started.append(k))
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    with sqlite3.connect(cli_env / "cli.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffff0000'")
    result = runner.invoke(cli, ["serve", "--dev"])
    assert result.exit_code == 2
    assert "refusing to start" in result.stderr and "ffff0000" in result.stderr
    assert started == []


def test_unobtainable_exam_data_is_told_on_the_monitoring_card_only() -> None:
    # No data card: the missing Procedure/DiagnosticReport keys concern only the eye exam.
    folder = Path(__file__).parents[1] / "scenarios" / "monitoring-avutometinib-eye-exam-not-obtained"
    request = json.loads((folder / "request.json").read_text(encoding="utf-8"))
    cards = evaluate_offline(request, now=SCENARIO_NOW)["cards"]
    assert [c["source"]["topic"]["code"] for c in cards] == ["avutometinib-defactinib.monitoring"]
    assert "procedures" in cards[0]["detail"] and "not called overdue" in cards[0]["detail"]
