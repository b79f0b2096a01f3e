"""EHR record shapes over HTTP: the CDS Hooks sandbox's capsule-count order with the real knowledge."""

from __future__ import annotations

import json
from pathlib import Path

from cards.loader import load_knowledge
from tests.service.conftest import MakeClient

SCENARIOS = Path(__file__).parents[1] / "scenarios"


async def test_sandbox_pill_order_over_http(make_client: MakeClient) -> None:
    body = json.loads((SCENARIOS / "alectinib-sandbox-pill-order-select" / "request.json").read_text())
    client = await make_client(knowledge=load_knowledge())
    response = await client.post("/cds-services/toxhooks-order-select", json=body)
    assert response.status_code == 200
    card = next(c for c in response.json()["cards"] if "resume at 450 mg twice daily" in c["summary"])
    update = next(a for s in card["suggestions"] for a in s["actions"] if a["type"] == "update")
    quantity = update["resource"]["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]
    assert quantity == {"value": 3, "unit": "{pill}", "system": "http://unitsofmeasure.org", "code": "{pill}"}
    assert update["resource"]["dosageInstruction"][0]["text"].startswith("3 capsules (450 mg)")
