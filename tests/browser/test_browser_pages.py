"""The preview page and the SMART timeline app in a real headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from service.web import SAMPLES_DIR
from tests.browser.conftest import Tab
from tests.browser.mock_fhir import TOKEN, mock_fhir

pytestmark = pytest.mark.browser

TIMEOUT_MS = 20_000
SAMPLES = json.loads((SAMPLES_DIR / "index.json").read_text(encoding="utf-8"))["samples"]


def _sample_resources(sample_id: str) -> list[dict[str, Any]]:
    """Every resource of a sample request's prefetch (the mock FHIR server's content)."""
    body = json.loads((SAMPLES_DIR / f"{sample_id}.json").read_text(encoding="utf-8"))
    resources = [body["prefetch"]["patient"]]
    for value in body["prefetch"].values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            resources += [entry["resource"] for entry in value.get("entry", [])]
    return resources


@pytest.mark.parametrize("sample", SAMPLES, ids=[s["id"] for s in SAMPLES])
def test_preview_renders_the_cards_of_each_sample(
    server: str, tab: Tab, sample: dict[str, Any], artifacts: Path
) -> None:
    page = tab.page
    page.goto(f"{server}/preview?sample={sample['id']}")
    page.wait_for_selector("#cards[data-rendered]", timeout=TIMEOUT_MS)
    raw = json.loads(page.inner_text("#raw"))
    summaries = page.locator("#cards article.card .summary").all_inner_texts()
    assert sorted(summaries) == sorted(card["summary"] for card in raw["cards"])
    assert summaries, f"no card for sample {sample['id']}"
    for card in page.locator("#cards article.card").all():
        indicator = card.get_attribute("data-indicator")
        assert indicator in {"info", "warning", "critical"}
        # Colour is never the only signal: the indicator is also written out.
        assert card.locator(".indicator").inner_text().lower() == indicator
    page.screenshot(path=str(artifacts / f"preview-{sample['id']}.png"), full_page=True)
    assert tab.errors == []


def test_preview_renders_a_pasted_request_with_keyboard_only(server: str, tab: Tab) -> None:
    page = tab.page
    page.goto(f"{server}/preview")
    page.wait_for_selector(
        "#sample option[value='pimasertib-rash-grade3']", state="attached", timeout=TIMEOUT_MS
    )
    body = json.loads((SAMPLES_DIR / "pimasertib-rash-grade3.json").read_text(encoding="utf-8"))
    page.fill("#request", json.dumps(body))
    page.fill("#now", "2026-10-16T09:00:00Z")
    page.focus("#now")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "render"
    page.keyboard.press("Enter")
    page.wait_for_selector("#cards[data-rendered]", timeout=TIMEOUT_MS)
    assert json.loads(page.inner_text("#raw"))["cards"] is not None
    page.fill("#request", "{broken")
    page.click("#render")
    assert "not valid JSON" in page.inner_text("#status")
    assert tab.errors == []


def _assert_timeline_drawn(page: Any) -> None:
    page.wait_for_selector("body[data-ready]", timeout=TIMEOUT_MS)
    assert page.get_attribute("body", "data-ready") == "true", page.inner_text("#status")
    ck = page.locator(".lab[data-analyte='ck'] .chart")
    assert ck.count() == 1
    assert int(ck.get_attribute("data-points") or 0) >= 5
    assert ck.locator("canvas").count() >= 1
    assert int(ck.get_attribute("data-bands-drawn") or 0) >= 3  # the peak reaches the grade 4 band
    assert "CPK" in (ck.get_attribute("aria-label") or "")
    # Text alternative: a data table for every chart.
    charts = page.locator(".chart").count()
    assert page.locator("details > table.data, details table.data").count() >= charts
    assert page.locator(".chart[data-segments]").count() == 1


def test_timeline_in_development_mode(server: str, tab: Tab, artifacts: Path) -> None:
    page = tab.page
    with mock_fhir(_sample_resources("alectinib-cpk-restart")) as fhir:
        query = urlencode({"fhir": fhir.fhir_base, "patient": "alec-cpk-1", "drug": "alectinib"})
        page.goto(f"{server}/smart/app#{query}")
        _assert_timeline_drawn(page)
        assert "Maria Keller" in page.inner_text("h1")
        page.screenshot(path=str(artifacts / "timeline-development-mode.png"), full_page=True)
    assert all(auth is None for _, auth in fhir.fhir_requests)
    assert tab.errors == []


def test_timeline_marks_recorded_events_and_shows_step_calendars(
    server: str, tab: Tab, artifacts: Path
) -> None:
    page = tab.page
    with mock_fhir(_sample_resources("alectinib-rash-rechallenge")) as fhir:
        query = urlencode({"fhir": fhir.fhir_base, "patient": "alec-rash-2", "drug": "alectinib"})
        page.goto(f"{server}/smart/app#{query}")
        page.wait_for_selector("body[data-ready]", timeout=TIMEOUT_MS)
        assert page.get_attribute("body", "data-ready") == "true", page.inner_text("#status")
        events = page.locator("#events .chart")
        assert events.get_attribute("data-markers") == "4"  # the AdverseEvent and three follow-up grades
        assert "Rash maculo-papular grade 3" in (events.get_attribute("aria-label") or "")
        calendars = page.locator(".calendar .chart[data-days]")
        assert calendars.count() >= 1 and int(calendars.first.get_attribute("data-days") or 0) > 0
        assert page.locator(".calendar table.data").count() == calendars.count()
        page.screenshot(path=str(artifacts / "timeline-rash-desensitization.png"), full_page=True)
    assert tab.errors == []


def test_card_link_launch_opens_the_timeline_of_the_cards_patient(
    server: str, tab: Tab, artifacts: Path
) -> None:
    page = tab.page
    page.goto(f"{server}/preview?sample=alectinib-cpk-restart")
    page.wait_for_selector("#cards[data-rendered]", timeout=TIMEOUT_MS)
    link = page.locator("#cards a.link[data-type='smart']").first
    url = link.get_attribute("href") or ""
    card = json.loads(page.inner_text("#raw"))["cards"][0]
    (smart,) = [entry for entry in card["links"] if entry["type"] == "smart"]
    assert url == smart["url"] == f"{server}/smart/launch"
    app_context = json.loads(smart["appContext"])
    assert app_context["patient"] == "alec-cpk-1" and app_context["drug"] == "alectinib"
    with mock_fhir(_sample_resources("alectinib-cpk-restart")) as fhir:
        fhir.launch_patient = app_context["patient"]
        fhir.app_context = smart["appContext"]
        # What an EHR does with a card's smart link: open its url with iss and launch.
        page.goto(f"{url}?{urlencode({'iss': fhir.fhir_base, 'launch': 'launch-123'})}")
        _assert_timeline_drawn(page)
        page.screenshot(path=str(artifacts / "timeline-smart-launch.png"), full_page=True)
        assert "code=" not in page.url  # the single-use code is dropped from the address bar
    (authorize,) = fhir.authorize_params
    assert authorize["code_challenge_method"] == "S256" and authorize["launch"] == "launch-123"
    assert authorize["aud"] == fhir.fhir_base and authorize["response_type"] == "code"
    assert urlsplit(authorize["redirect_uri"]).path == "/smart/app"
    assert "patient/Observation.read" in authorize["scope"]
    (token,) = fhir.token_requests
    assert token["grant_type"] == "authorization_code" and len(token["code_verifier"]) >= 43
    assert fhir.errors == []
    assert fhir.fhir_requests and all(auth == f"Bearer {TOKEN}" for _, auth in fhir.fhir_requests)
    context = page.inner_text("#context")
    assert "alec-cpk-1" in context and app_context["rule"] in context
    assert tab.errors == []


def test_timeline_refuses_development_mode_when_it_is_off(server: str, tab: Tab) -> None:
    """Without dev mode the app does not read a FHIR server named in its URL."""
    page = tab.page
    off = json.dumps({"clientId": "x", "scope": "launch", "devEnabled": False})
    page.route(f"{server}/smart/config", lambda route: route.fulfill(status=200, body=off))
    with mock_fhir(_sample_resources("alectinib-cpk-restart")) as fhir:
        page.goto(f"{server}/smart/app?{urlencode({'fhir': fhir.fhir_base, 'patient': 'alec-cpk-1'})}")
        page.wait_for_selector("body[data-ready='error']", timeout=TIMEOUT_MS)
        assert "Development mode is off" in page.inner_text("#status")
    assert fhir.fhir_requests == []


def test_launch_page_development_form_works_from_the_keyboard(server: str, tab: Tab) -> None:
    page = tab.page
    with mock_fhir(_sample_resources("pimasertib-rash-grade3")) as fhir:
        page.goto(f"{server}/smart/launch")
        page.wait_for_selector("#dev:not([hidden])", timeout=TIMEOUT_MS)
        page.focus("#dev-fhir")
        page.keyboard.type(fhir.fhir_base)
        page.keyboard.press("Tab")
        page.keyboard.type("pima-rash-3")
        page.keyboard.press("Tab")
        page.keyboard.type("pimasertib")
        page.keyboard.press("Enter")
        page.wait_for_selector("body[data-ready]", timeout=TIMEOUT_MS)
        assert page.get_attribute("body", "data-ready") == "true", page.inner_text("#status")
        assert "pima-rash-3" not in urlsplit(page.url).query  # kept in the fragment
        assert page.locator("#events .chart").get_attribute("data-markers") == "2"
        assert page.locator("#recommendation article.card").count() >= 1
    assert tab.errors == []


def test_timeline_shows_the_monitoring_schedule_with_done_and_overdue_marks(
    server: str, tab: Tab, artifacts: Path
) -> None:
    scenario = Path(__file__).parents[1] / "scenarios" / "monitoring-avutometinib-on-time" / "request.json"
    body = json.loads(scenario.read_text(encoding="utf-8"))
    resources = [body["prefetch"]["patient"]]
    for value in body["prefetch"].values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            resources += [entry["resource"] for entry in value.get("entry", [])]
    page = tab.page
    with mock_fhir(resources) as fhir:
        query = urlencode({"fhir": fhir.fhir_base, "patient": "p-3001", "drug": "avutometinib-defactinib"})
        page.goto(f"{server}/smart/app#{query}")
        page.wait_for_selector("body[data-ready]", timeout=TIMEOUT_MS)
        assert page.get_attribute("body", "data-ready") == "true", page.inner_text("#status")
        panel = page.locator(".monitoring[data-drug='avutometinib-defactinib']")
        assert panel.count() == 1
        # Tests on record in March are done; the schedule has run on since (real clock): overdue now.
        assert int(panel.get_attribute("data-done") or 0) >= 10
        assert int(panel.get_attribute("data-overdue") or 0) >= 1
        assert panel.locator(".mark-done").count() >= 10 and panel.locator(".mark-overdue").count() >= 1
        table = panel.locator("table.data")
        assert "before cycle 2" in table.inner_text() and "✓ done" in table.inner_text()
        assert "Procedure" in str(fhir.fhir_requests)  # eye exams were read
        page.screenshot(path=str(artifacts / "timeline-monitoring.png"), full_page=True)
    assert tab.errors == []
