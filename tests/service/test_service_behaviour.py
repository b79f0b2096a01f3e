"""Cross-cutting behaviour of the app: do-not-nag-twice, issued-card records, health, CORS, auth seam."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from cards.loader import load_knowledge
from service.auth import Principal
from service.dedupe import MemoryShownCards, RedisShownCards
from service.errors import AuthenticationFailed
from service.settings import Settings
from service.storage.tables import issued_cards
from tests.scenarios.test_scenarios import NOW
from tests.service.conftest import MakeClient
from tests.service.examples import PATIENT, draft_order, hook_request
from tests.service.fakes import FakeEngine
from tests.service.test_feedback_api import state_of

SELECT = "/cds-services/toxhooks-order-select"
SIGN = "/cds-services/toxhooks-order-sign"
PV = "/cds-services/toxhooks-patient-view"


def summaries(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [card["summary"] for card in response.json()["cards"]]


async def test_order_sign_does_not_repeat_an_order_select_card(
    make_client: MakeClient, fake_engine: FakeEngine
) -> None:
    client = await make_client()
    drafts = [draft_order("mr-1"), draft_order("mr-2")]
    shown = summaries(await client.post(SELECT, json=hook_request("order-select", drafts=drafts)))
    assert len(shown) == 2
    signed = summaries(await client.post(SIGN, json=hook_request("order-sign", drafts=drafts)))
    assert signed == []  # both already shown for this patient and these drafts
    other_drafts = [{**d, "subject": {"reference": "Patient/p-2002"}} for d in drafts]
    other = hook_request("order-sign", drafts=other_drafts, prefetch={"labs": None})
    other["context"]["patientId"] = "p-2002"
    assert len([s for s in summaries(await client.post(SIGN, json=other)) if "could not" not in s]) == 2


async def test_another_patients_data_is_set_aside_and_named(
    make_client: MakeClient, fake_engine: FakeEngine
) -> None:
    client = await make_client()
    body = hook_request("order-sign", drafts=[draft_order("mr-1")])
    foreign_lab = {**body["prefetch"]["labs"]["entry"][0]["resource"], "id": "ck-foreign"}
    foreign_lab["subject"] = {"reference": "Patient/someone-else"}
    body["prefetch"]["labs"]["entry"].append({"resource": foreign_lab})
    foreign_draft = {**draft_order("mr-9"), "subject": {"reference": "Patient/someone-else"}}
    body["context"]["draftOrders"]["entry"].append({"resource": foreign_draft})
    response = await client.post(SIGN, json=body)
    assert response.status_code == 200
    request = fake_engine.requests[0]
    assert [o.reference for o in request.draft_orders] == ["MedicationRequest/mr-1"]
    assert all(lab.resource != "Observation/ck-foreign" for lab in request.facts.labs.get("ck", ()))
    detail = response.json()["cards"][-1]["detail"]
    assert "Observation/ck-foreign (belongs to Patient/someone-else" in detail
    assert "MedicationRequest/mr-9 is for Patient/someone-else" in detail


async def test_shown_cards_expire_after_the_ttl() -> None:
    now = [1000.0]
    shown = MemoryShownCards(ttl_s=60, clock=lambda: now[0])
    await shown.remember(PATIENT, ["k1"])
    assert await shown.recent(PATIENT) == {"k1"}
    assert await shown.recent("someone-else") == set()
    now[0] += 61
    assert await shown.recent(PATIENT) == set()


async def test_shown_cards_stay_bounded() -> None:
    shown = MemoryShownCards(ttl_s=60, clock=lambda: 0.0, limit=3)
    for key in ("a", "b", "c", "d", "e"):
        await shown.remember(PATIENT, [key])
    assert len(await shown.recent(PATIENT)) <= 3
    assert "e" in await shown.recent(PATIENT)


async def test_replicas_share_shown_cards_through_redis() -> None:
    url = os.environ.get("TOXHOOKS_TEST_REDIS_URL")
    if not url:
        pytest.skip("TOXHOOKS_TEST_REDIS_URL is not set")
    first, second = RedisShownCards.from_url(url, 60), RedisShownCards.from_url(url, 60)
    patient = f"p-{uuid.uuid4()}"
    try:
        try:
            await first.remember(patient, ["k1", "k2"])
        except Exception as exc:  # pragma: no cover - server gone between check and use
            pytest.skip(f"Redis unreachable: {exc}")
        if not await first.recent(patient):
            pytest.skip("Redis unreachable")
        assert await second.recent(patient) == {"k1", "k2"}
        assert await second.recent("someone-else") == set()
    finally:
        await first.aclose()
        await second.aclose()


async def test_unreachable_redis_shows_cards_again() -> None:
    store = RedisShownCards.from_url("redis://127.0.0.1:1/0", 60)  # nothing listens on port 1
    await store.remember(PATIENT, ["k1"])
    assert await store.recent(PATIENT) == set()
    await store.aclose()


async def test_issued_cards_are_recorded_with_their_rules(
    make_client: MakeClient, fake_engine: FakeEngine
) -> None:
    client = await make_client()
    cards = (await client.post(SIGN, json=hook_request("order-sign"))).json()["cards"]
    await state_of(client).recorder.flush()
    async with state_of(client).engine.connect() as conn:
        rows = (await conn.execute(select(issued_cards))).mappings().all()
    assert [(r["card_uuid"], r["service_id"], r["drug"], r["decision"], r["rule_ids"]) for r in rows] == [
        (cards[0]["uuid"], "toxhooks-order-sign", "alectinib", "withhold", '["test.withhold"]')
    ]


async def test_health_endpoints(make_client: MakeClient, monkeypatch: pytest.MonkeyPatch) -> None:
    client = await make_client()
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["knowledge"] == "test-1"

    async def down() -> None:
        raise OSError("database gone")

    monkeypatch.setattr(state_of(client).store, "ping", down)
    not_ready = await client.get("/readyz")
    assert not_ready.status_code == 503 and not_ready.json()["database"] == "unreachable"


async def test_cors_follows_the_settings(make_client: MakeClient, svc_settings: Settings) -> None:
    origin = "https://sandbox.cds-hooks.org"
    preflight = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    closed = await make_client()
    response = await closed.options(PV, headers=preflight)
    assert "access-control-allow-origin" not in response.headers
    open_ = await make_client(svc_settings.model_copy(update={"cors_origins": [origin]}))
    response = await open_.options(PV, headers=preflight)
    assert response.headers["access-control-allow-origin"] == origin
    response = await open_.get("/cds-services", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in response.headers


class RecordingAuthenticator:
    """Accepts one token and remembers the audiences it was asked about."""

    def __init__(self) -> None:
        self.audiences: list[str] = []

    async def authenticate(self, authorization: str | None, audience: str) -> Principal:
        self.audiences.append(audience)
        if authorization != "Bearer good":
            raise AuthenticationFailed("bad-signature")
        return Principal(issuer="https://ehr.example.org")

    async def aclose(self) -> None:
        """Nothing to release."""


@pytest.fixture
def recording_auth(monkeypatch: pytest.MonkeyPatch) -> RecordingAuthenticator:
    auth = RecordingAuthenticator()
    monkeypatch.setattr("service.state.build_authenticator", lambda settings, client: auth)
    return auth


async def test_hooks_and_feedback_are_authenticated_with_the_url_called(
    make_client: MakeClient, recording_auth: RecordingAuthenticator, fake_engine: FakeEngine
) -> None:
    client = await make_client()
    refused = await client.post(PV, json=hook_request("patient-view"))
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert "bad-signature" not in refused.text
    ok = await client.post(PV, json=hook_request("patient-view"), headers={"Authorization": "Bearer good"})
    assert ok.status_code == 200
    feedback = await client.post(f"{PV}/feedback", json={"feedback": []})
    assert feedback.status_code == 401
    assert recording_auth.audiences == [
        "http://toxhooks.test/cds-services/toxhooks-patient-view",
        "http://toxhooks.test/cds-services/toxhooks-patient-view",
        "http://toxhooks.test/cds-services/toxhooks-patient-view/feedback",
    ]


async def test_public_base_url_sets_the_audience_and_smart_link(
    make_client: MakeClient,
    svc_settings: Settings,
    recording_auth: RecordingAuthenticator,
    fake_engine: FakeEngine,
) -> None:
    settings = svc_settings.model_copy(update={"public_base_url": "https://cds.example.org/toxhooks/"})
    client = await make_client(settings)
    response = await client.post(
        PV, json=hook_request("patient-view"), headers={"Authorization": "Bearer good"}
    )
    assert recording_auth.audiences == ["https://cds.example.org/toxhooks/cds-services/toxhooks-patient-view"]
    link = response.json()["cards"][0]["links"][0]
    assert link["url"] == "https://cds.example.org/toxhooks/smart/launch"


async def test_health_is_open_and_discovery_authenticated(
    make_client: MakeClient, recording_auth: RecordingAuthenticator
) -> None:
    client = await make_client()
    for path in ("/healthz", "/readyz"):
        assert (await client.get(path)).status_code == 200
    assert recording_auth.audiences == []
    assert (await client.get("/cds-services")).status_code == 401
    assert (await client.get("/cds-services", headers={"Authorization": "Bearer good"})).status_code == 200
    assert recording_auth.audiences == ["http://toxhooks.test/cds-services"] * 2


def test_production_settings_without_issuers_refuse_to_start(svc_settings: Settings) -> None:
    from service.app import create_app
    from service.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        create_app(svc_settings.model_copy(update={"dev": False}))


async def test_discovery_lists_each_hook_with_prefetch_and_version(make_client: MakeClient) -> None:
    client = await make_client()
    services: list[dict[str, Any]] = (await client.get("/cds-services")).json()["services"]
    assert {s["hook"] for s in services} == {"order-select", "order-sign", "patient-view"}
    for service in services:
        assert service["id"] and service["description"] and service["title"] and service["usageRequirements"]
        # The knowledge version is an extension; `version` is the specification's field, not ours.
        assert service["extension"] == {"org.toxhooks.knowledge-version": "test-1"}
        assert "version" not in service
        prefetch = service["prefetch"]
        assert set(prefetch) == {
            "patient",
            "labs",
            "gradedEvents",
            "medications",
            "conditions",
            "adverseEvents",
            "procedures",
            "diagnosticReports",
            "assessments",
        }
        assert "code=http://loinc.org|2157-6" in prefetch["labs"] and "date=ge2025-03-14" in prefetch["labs"]
        # Every status: stopped orders matter (first start, desensitization gaps, prior therapy).
        assert "status=" not in prefetch["medications"]
        assert "MDRAE|" in prefetch["gradedEvents"] and "date=ge2025-03-14" in prefetch["gradedEvents"]
        assert "config" not in service and "required" not in service  # private config is stripped


async def test_app_start_up_refuses_an_unknown_schema_revision(svc_settings: Settings) -> None:
    from service.app import create_app
    from service.errors import ConfigurationError
    from service.storage.database import create_engine, upgrade

    engine = create_engine(svc_settings.database_url)
    await upgrade(engine)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = 'ffff0000'"))
    await engine.dispose()
    app = create_app(svc_settings, http_client=httpx.AsyncClient())
    with pytest.raises(ConfigurationError, match="ffff0000"):
        async with app.router.lifespan_context(app):
            pass
    await app.state.toxhooks.client.aclose()
    await app.state.toxhooks.engine.dispose()


async def test_monitoring_warning_shown_at_order_select_is_not_repeated_at_sign(
    make_client: MakeClient,
) -> None:
    folder = Path(__file__).parents[1] / "scenarios" / "monitoring-avutometinib-cycle-2-order"
    body = json.loads((folder / "request.json").read_text(encoding="utf-8"))
    client = await make_client(knowledge=load_knowledge(Settings().knowledge_dir), clock=lambda: NOW)
    selected = await client.post(SELECT, json=body)
    assert any("missing before cycle 2" in s for s in summaries(selected))
    sign = {
        **body,
        "hook": "order-sign",
        "context": {k: v for k, v in body["context"].items() if k != "selections"},
    }
    signed = await client.post(SIGN, json=sign)
    assert not any("schedule monitoring" in s for s in summaries(signed))
    fresh = await make_client(knowledge=load_knowledge(Settings().knowledge_dir), clock=lambda: NOW)
    assert any("missing before cycle 2" in s for s in summaries(await fresh.post(SIGN, json=sign)))
