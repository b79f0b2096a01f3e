"""HTTP behaviour of the web pages: gating of /preview, samples, rendering, SMART API input checks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from service.routes.pages import router
from service.settings import Settings
from service.web import SAMPLES_DIR
from tests.scenarios.test_scenarios import NOW as SCENARIO_NOW

DRUGS = {"alectinib", "pimasertib", "avutometinib-defactinib"}


def _app(**settings: Any) -> FastAPI:
    app = FastAPI()
    app.include_router(router)
    app.state.settings = Settings(**settings)
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app(dev=True))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield http


@pytest.mark.parametrize("path", ["/preview", "/preview/samples", "/preview/samples/alectinib-cpk-restart"])
async def test_preview_is_404_unless_enabled(path: str) -> None:
    transport = httpx.ASGITransport(app=_app(dev=False, preview_enabled=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        assert (await http.get(path)).status_code == 404
        assert (await http.post("/preview/render", json={})).status_code == 404
    transport = httpx.ASGITransport(app=_app(dev=False, preview_enabled=True))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        assert (await http.get(path)).status_code == 200


async def test_samples_cover_the_three_drugs_and_are_cds_hooks_requests(client: httpx.AsyncClient) -> None:
    samples = (await client.get("/preview/samples")).json()
    assert {s["drug"] for s in samples} == DRUGS
    for sample in samples:
        body = (await client.get(f"/preview/samples/{sample['id']}")).json()
        assert body["hook"] == sample["hook"]
        assert body["context"]["patientId"] == body["prefetch"]["patient"]["id"]
        if body["hook"] != "patient-view":
            drafts = body["context"]["draftOrders"]["entry"]
            assert drafts and all(e["resource"]["status"] == "draft" for e in drafts)
    assert (await client.get("/preview/samples/nope")).status_code == 404


def test_sample_files_are_all_listed() -> None:
    index = json.loads((SAMPLES_DIR / "index.json").read_text(encoding="utf-8"))
    listed = {s["file"] for s in index["samples"]}
    assert listed == {p.name for p in SAMPLES_DIR.glob("*.json")} - {"index.json"}


async def test_render_returns_response_and_display_cards(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    response = {
        "cards": [
            {"summary": "Continue", "indicator": "info", "source": {"label": "L"}},
            {"summary": "Withhold", "indicator": "critical", "detail": "<b>x</b>", "source": {"label": "L"}},
        ]
    }
    seen: list[dict[str, Any]] = []

    def fake(request_json: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        seen.append(request_json)
        return response

    monkeypatch.setattr("service.offline.evaluate_offline", fake)
    reply = await client.post("/preview/render", json={"hook": "order-select"})
    assert reply.status_code == 200
    assert seen == [{"hook": "order-select"}]
    assert reply.json()["response"] == response
    assert [c["summary"] for c in reply.json()["cards"]] == ["Withhold", "Continue"]
    assert "&lt;b&gt;" in reply.json()["cards"][0]["detailHtml"]


async def test_render_reports_bad_requests_with_their_field(client: httpx.AsyncClient) -> None:
    reply = await client.post("/preview/render", content=b"{not json")
    assert reply.status_code == 400 and "JSON" in reply.json()["error"]
    reply = await client.post("/preview/render", json=[1])
    assert reply.status_code == 400
    reply = await client.post("/preview/render", json={"hook": "order-select", "context": {}})
    assert 400 <= reply.status_code < 500
    assert reply.json()["error"]


async def test_static_files_are_served_and_confined(client: httpx.AsyncClient) -> None:
    reply = await client.get("/web/static/vendor/uplot/uPlot.iife.min.js")
    assert reply.status_code == 200 and "uPlot" in reply.text
    for path in ("/web/static/../__init__.py", "/web/static/%2e%2e/__init__.py", "/web/static/nope.js"):
        assert (await client.get(path)).status_code == 404


@pytest.mark.parametrize("path", ["/smart/launch", "/smart/app", "/preview"])
async def test_pages_are_html(client: httpx.AsyncClient, path: str) -> None:
    reply = await client.get(path)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/html")
    assert "<script" in reply.text and "onclick" not in reply.text
    assert "script-src 'self'" in reply.headers["content-security-policy"]
    assert reply.headers["referrer-policy"] == "no-referrer"  # keeps the launch code out of Referer


async def test_smart_config_names_the_client_and_dev_mode() -> None:
    for dev, expected in ((True, True), (False, False)):
        app = _app(dev=dev, smart_client_id="my-client")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as http:
            config = (await http.get("/smart/config")).json()
        assert config["clientId"] == "my-client" and config["devEnabled"] is expected
        assert "patient/Observation.read" in config["scope"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"patient": "p"}, "resources"),
        ({"patient": "p", "resources": [1]}, "resources"),
        ({"resources": []}, "patient"),
        ({"patient": 5, "resources": []}, "patient"),
        ({"patient": "p", "drug": ["x"], "resources": []}, "drug"),
        ({"patient": "p", "resources": [], "unavailable": "procedures"}, "unavailable"),
        ({"patient": "p", "resources": [], "unavailable": [3]}, "unavailable"),
    ],
)
async def test_timeline_api_names_the_bad_field(client: httpx.AsyncClient, body: Any, field: str) -> None:
    reply = await client.post("/smart/api/timeline", json=body)
    assert reply.status_code == 400
    assert reply.json()["field"] == field


async def test_timeline_api_limits_resources() -> None:
    app = _app(dev=True, max_resources=2)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as http:
        reply = await http.post("/smart/api/timeline", json={"patient": "p", "resources": [{}, {}, {}]})
    assert reply.status_code == 413


async def test_timeline_api_shapes_a_sample_patient(client: httpx.AsyncClient) -> None:
    sample = json.loads((SAMPLES_DIR / "alectinib-cpk-restart.json").read_text(encoding="utf-8"))
    resources = [e["resource"] for key in ("labs", "medications") for e in sample["prefetch"][key]["entry"]]
    reply = await client.post(
        "/smart/api/timeline", json={"patient": "alec-cpk-1", "drug": "alectinib", "resources": resources}
    )
    assert reply.status_code == 200
    assert reply.headers["cache-control"] == "no-store"
    view = reply.json()
    assert view["patient"] == "alec-cpk-1" and view["drug"] == "alectinib"
    assert set(view) >= {"labs", "events", "therapy", "recommendation", "calendars", "exclusions"}
    ck = next(series for series in view["labs"] if series["analyte"] == "ck")
    assert ck["term"] == "CPK increased" and len(ck["points"]) == 7
    assert [band["grade"] for band in ck["bands"]] == [1, 2, 3, 4]
    assert max(point["grade"] for point in ck["points"]) == 4
    assert [segment["state"] for segment in view["therapy"]] == ["stopped", "hold"]
    assert view["calendars"] and all(c["protocol"]["source"] for c in view["calendars"])


async def test_timeline_api_shows_the_monitoring_schedule_with_marks() -> None:
    app = _app(dev=True)
    app.state.toxhooks = SimpleNamespace(clock=lambda: SCENARIO_NOW)  # the scenario's frozen clock
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        await _monitoring_schedule_checks(client)


async def _monitoring_schedule_checks(client: httpx.AsyncClient) -> None:
    folder = Path(__file__).parents[1] / "scenarios" / "monitoring-avutometinib-overdue-one-test"
    request = json.loads((folder / "request.json").read_text(encoding="utf-8"))
    keys = ("labs", "medications", "procedures")
    resources = [e["resource"] for key in keys for e in request["prefetch"][key]["entry"]]
    body = {"patient": "p-3001", "drug": "avutometinib-defactinib", "resources": resources}
    reply = await client.post("/smart/api/timeline", json=body)
    assert reply.status_code == 200
    [schedule] = reply.json()["monitoring"]
    assert schedule["drug"] == "avutometinib-defactinib" and schedule["start"] == "2026-02-09"
    marks = {(r["item"], r["label"]): r["mark"] for r in schedule["rows"] if r["due"] <= "2026-03-09"}
    assert marks[("alt", "before cycle 2")] == "done" and marks[("ophthalmic-exam", "baseline")] == "done"
    assert marks[("ck", "before cycle 2")] == "overdue"
    # The app could not read DiagnosticReports: eye exams it cannot see are "not checked", not overdue.
    without_exams = [r for r in resources if r["resourceType"] != "Procedure"]
    reply = await client.post(
        "/smart/api/timeline", json={**body, "resources": without_exams, "unavailable": ["procedures"]}
    )
    [schedule] = reply.json()["monitoring"]
    eye = [r["mark"] for r in schedule["rows"] if r["item"] == "ophthalmic-exam" and r["due"] <= "2026-03-16"]
    assert eye and set(eye) == {"not checked (data not obtained)"}
