"""POST /cds-services/{id}/feedback: validation, durable idempotent storage, attribution to rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from service.settings import Settings
from service.state import AppState
from service.storage.database import create_engine, upgrade
from tests.service.conftest import MakeClient
from tests.service.examples import hook_request
from tests.service.fakes import FakeEngine
from tests.service.storage_backends import BACKENDS, database_url_for

SIGN = "/cds-services/toxhooks-order-sign"


def state_of(client: httpx.AsyncClient) -> AppState:
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    state: AppState = transport.app.state.toxhooks  # type: ignore[attr-defined]
    return state


async def test_feedback_on_an_issued_card_is_attributed_to_its_rule(
    make_client: MakeClient, fake_engine: FakeEngine
) -> None:
    client = await make_client()
    cards = (await client.post(SIGN, json=hook_request("order-sign"))).json()["cards"]
    card, suggestion = cards[0]["uuid"], cards[0]["suggestions"][0]["uuid"]
    body = {
        "feedback": [
            {
                "card": card,
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": suggestion}],
                "outcomeTimestamp": "2026-03-14T09:31:00+01:00",
            }
        ]
    }
    response = await client.post(f"{SIGN}/feedback", json=body)
    assert response.status_code == 200
    assert response.json() == {"received": 1, "stored": 1}
    again = await client.post(f"{SIGN}/feedback", json=body)
    assert again.status_code == 200 and again.json() == {"received": 1, "stored": 0}
    stats = {(r.scope, r.name): (r.accepted, r.overridden) for r in await state_of(client).store.stats()}
    assert stats == {("service", "toxhooks-order-sign"): (1, 0), ("rule", "test.withhold"): (1, 0)}


async def test_override_with_reason_is_stored(make_client: MakeClient) -> None:
    client = await make_client()
    body = {
        "feedback": [
            {
                "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
                "outcome": "overridden",
                "overrideReason": {
                    "reason": {"code": "aware", "system": "http://example.org/reasons", "display": "Aware"},
                    "userComment": "Discussed with the patient",
                },
                "outcomeTimestamp": "2026-03-14T09:31:00Z",
                "extension": {"org.example": 1},
            }
        ]
    }
    response = await client.post(f"{SIGN}/feedback", json=body)
    assert response.status_code == 200
    rows = await state_of(client).store.stats()
    assert [(r.scope, r.overridden) for r in rows] == [("service", 1)]  # unknown card: no rule to credit


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "feedback"),
        ({"feedback": []}, "feedback"),
        (
            {"feedback": [{"outcome": "accepted", "outcomeTimestamp": "2026-03-14T09:00:00Z"}]},
            "feedback[0].card",
        ),
        (
            {"feedback": [{"card": "x", "outcome": "accepted", "outcomeTimestamp": "2026-03-14T09:00:00Z"}]},
            "feedback[0].card",
        ),
        (
            {
                "feedback": [
                    {
                        "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
                        "outcome": "maybe",
                        "outcomeTimestamp": "2026-03-14T09:00:00Z",
                    }
                ]
            },
            "feedback[0].outcome",
        ),
        (
            {"feedback": [{"card": "9368d37b-283f-44a0-93ea-547cebab93ed", "outcome": "accepted"}]},
            "feedback[0].outcomeTimestamp",
        ),
        ([1], "body"),
        (
            {
                "feedback": [
                    {
                        "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
                        "outcome": "accepted",
                        "outcomeTimestamp": "0001-01-01T00:00:00+01:00",  # before the first UTC time
                    }
                ]
            },
            "feedback[0].outcomeTimestamp",
        ),
    ],
)
async def test_invalid_feedback_is_400_naming_the_field(
    body: Any, field: str, make_client: MakeClient
) -> None:
    client = await make_client()
    response = await client.post(f"{SIGN}/feedback", json=body)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == [field]
    assert await state_of(client).store.stats() == []


@pytest.mark.parametrize("backend", BACKENDS)
async def test_hook_and_feedback_end_to_end_on_each_database(
    backend: str, tmp_path: Path, make_client: MakeClient, svc_settings: Settings, fake_engine: FakeEngine
) -> None:
    async with database_url_for(backend, tmp_path) as url:
        if backend == "postgres":
            engine = create_engine(url)
            await upgrade(engine)  # a server database is migrated by `toxhooks db upgrade`, not at start
            await engine.dispose()
        client = await make_client(svc_settings.model_copy(update={"database_url": url}))
        card = (await client.post(SIGN, json=hook_request("order-sign"))).json()["cards"][0]["uuid"]
        entry = {"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-03-14T09:31:00+01:00"}
        response = await client.post(f"{SIGN}/feedback", json={"feedback": [entry]})
        assert response.json() == {"received": 1, "stored": 1}
        stats = {(r.scope, r.name): r.overridden for r in await state_of(client).store.stats()}
        assert stats == {("service", "toxhooks-order-sign"): 1, ("rule", "test.withhold"): 1}
        await state_of(client).engine.dispose()
