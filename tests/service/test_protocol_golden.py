"""Golden tests: discovery and each hook on example requests, as parsed JSON with uuids normalised."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.service.conftest import MakeClient
from tests.service.fakes import FakeEngine
from tests.service.spec import assert_valid_response, normalise_uuids

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "request.json").exists())
UPDATE = os.environ.get("TOXHOOKS_UPDATE_GOLDEN") == "1"  # rewrite expectations after a reviewed change


def _compare(path: Path, actual: Any) -> None:
    if UPDATE:
        path.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n")
    expected = json.loads(path.read_text())
    assert actual == expected


async def test_discovery_golden(make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.get("/cds-services")
    assert response.status_code == 200
    _compare(GOLDEN / "discovery.json", response.json())


@pytest.mark.parametrize("case", CASES)
async def test_hook_golden(case: str, make_client: MakeClient, fake_engine: FakeEngine) -> None:
    spec = json.loads((GOLDEN / case / "request.json").read_text())
    client = await make_client()
    response = await client.post(f"/cds-services/{spec['service']}", json=spec["body"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert_valid_response(body)
    _compare(GOLDEN / case / "response.json", normalise_uuids(body))


def test_every_hook_has_a_golden_case() -> None:
    hooks = {json.loads((GOLDEN / c / "request.json").read_text())["body"]["hook"] for c in CASES}
    assert {"order-select", "order-sign", "patient-view"} <= hooks
