"""Order hooks whose drafts name no covered drug: {"cards": []} at once, no data asked for or fetched."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import respx
from typer.testing import CliRunner

from cards.loader import load_knowledge
from service.cli import app as cli
from service.offline import evaluate_offline
from service.settings import Settings
from tests.service.conftest import MakeClient
from tests.service.examples import FHIR, draft_order, hook_request
from tests.service.fakes import FROZEN_NOW

runner = CliRunner()
AMOXICILLIN = {
    "medicationCodeableConcept": {
        "coding": [
            {
                "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                "code": "308182",
                "display": "amoxicillin 250 MG Oral Capsule",
            }
        ],
        "text": "amoxicillin 250 mg capsule",
    }
}


def _amoxicillin_request(hook: str, **options: Any) -> dict[str, Any]:
    drafts = [draft_order("amox-1", medication=AMOXICILLIN)]
    if hook == "order-select":
        options["selections"] = ["MedicationRequest/amox-1"]
    return hook_request(hook, drafts=drafts, **options)


@pytest.fixture
def fhir() -> Iterator[respx.MockRouter]:
    """The EHR's FHIR server: every call is recorded (none is expected)."""
    with respx.mock(base_url=FHIR, assert_all_called=False) as router:
        router.route().respond(404)
        yield router


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
async def test_http_uncovered_order_gets_no_cards_and_no_fetch(
    hook: str, make_client: MakeClient, fhir: respx.MockRouter
) -> None:
    client = await make_client(knowledge=load_knowledge())
    body = _amoxicillin_request(hook, prefetch={}, fhir_server=True)
    response = await client.post(f"/cds-services/toxhooks-{hook}", json=body)
    assert response.status_code == 200
    assert response.json() == {"cards": []}
    assert not fhir.calls  # nothing fetched for a drug no rule covers


async def test_http_uncovered_order_without_fhir_server_is_not_412(make_client: MakeClient) -> None:
    client = await make_client(knowledge=load_knowledge())
    response = await client.post(
        "/cds-services/toxhooks-order-sign", json=_amoxicillin_request("order-sign", prefetch={})
    )
    assert response.status_code == 200
    assert response.json() == {"cards": []}


async def test_http_covered_order_still_requires_data(make_client: MakeClient) -> None:
    """A covered drug among the drafts keeps the normal path (412 when required data is absent)."""
    client = await make_client(knowledge=load_knowledge())
    drafts = [draft_order("amox-1", medication=AMOXICILLIN), draft_order("alec-1")]
    body = hook_request("order-sign", drafts=drafts, prefetch={})
    response = await client.post("/cds-services/toxhooks-order-sign", json=body)
    assert response.status_code == 412


def test_co_medication_alone_is_not_covered(svc_settings: Settings) -> None:
    """Irinotecan is known only as a co-medication of pimasertib: alone it gets no cards."""
    irinotecan = {"medicationCodeableConcept": {"text": "irinotecan 180 mg/m2"}}
    body = hook_request("order-sign", drafts=[draft_order("iri-1", medication=irinotecan)], prefetch={})
    response = evaluate_offline(body, settings=svc_settings, knowledge=load_knowledge(), now=FROZEN_NOW)
    assert response == {"cards": []}


def test_unresolved_medication_reference_is_not_assumed_uncovered(svc_settings: Settings) -> None:
    """A reference to a Medication outside the request cannot be told apart without it: normal path."""
    ref = {"medicationReference": {"reference": "Medication/med-unknown"}}
    body = hook_request("order-sign", drafts=[draft_order("x-1", medication=ref)])
    response = evaluate_offline(body, settings=svc_settings, knowledge=load_knowledge(), now=FROZEN_NOW)
    assert any("could not" in card["summary"] for card in response["cards"])


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TOXHOOKS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("TOXHOOKS_LOG_JSON", "false")
    monkeypatch.delenv("TOXHOOKS_DEV", raising=False)
    monkeypatch.delenv("TOXHOOKS_TRUSTED_ISSUERS", raising=False)
    monkeypatch.delenv("TOXHOOKS_KNOWLEDGE_DIR", raising=False)
    return tmp_path


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_cli_evaluate_uncovered_order_prints_no_cards(hook: str, cli_env: Path) -> None:
    path = cli_env / "request.json"
    path.write_text(json.dumps(_amoxicillin_request(hook, prefetch={})))
    result = runner.invoke(cli, ["evaluate", str(path), "--now", "2026-03-16T10:00:00+01:00"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"cards": []}
