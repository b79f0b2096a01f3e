"""Web pages served by toxhooks: the card preview (/preview) and the SMART timeline app (/smart)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from cards.loader import KnowledgeBase, load_knowledge
from cards.schema import KnowledgeFile
from service.errors import RequestError
from service.settings import Settings, get_settings
from service.views.calendar import Protocol, protocols_from_knowledge
from service.views.card_display import display_cards
from service.views.timeline import build_timeline
from service.web import SAMPLES_DIR, STATIC_DIR
from terminology.ctcae import get_table

__all__ = ["router"]

router = APIRouter()

# SMART scopes the timeline app asks for: read-only access to what the timeline draws.
SMART_SCOPES = (
    "launch openid fhirUser patient/Patient.read patient/Observation.read "
    "patient/MedicationRequest.read patient/Medication.read patient/AdverseEvent.read "
    "patient/Condition.read patient/Procedure.read patient/DiagnosticReport.read"
)
_NO_STORE = {"Cache-Control": "no-store"}
# Pages run only their own scripts; the app talks to the EHR's servers (any origin) with fetch.
# No referrer: the launch's single-use code must not leak to the FHIR server in a Referer header.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self' https: http:; object-src 'none'; base-uri 'none'; form-action 'self'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def _settings(request: Request) -> Settings:
    """The app's settings (app.state.settings) or the environment's."""
    settings = getattr(request.app.state, "settings", None)
    return settings if isinstance(settings, Settings) else get_settings()


@cache
def _default_knowledge(extra_dir: str | None) -> KnowledgeBase:
    """Knowledge loaded once per process when the app does not hold its own."""
    return load_knowledge(Path(extra_dir) if extra_dir else None)


def _knowledge(request: Request) -> KnowledgeBase:
    """The app's knowledge (app.state.knowledge) or the built-in one."""
    knowledge = getattr(request.app.state, "knowledge", None)
    if isinstance(knowledge, KnowledgeBase):
        return knowledge
    directory = _settings(request).knowledge_dir
    return _default_knowledge(str(directory) if directory else None)


def _now(request: Request) -> datetime:
    """The app's injected clock (app.state.toxhooks.clock) or the system clock."""
    clock = getattr(getattr(request.app.state, "toxhooks", None), "clock", None)
    now = clock() if callable(clock) else None
    return now if isinstance(now, datetime) else datetime.now(UTC)


def _preview_enabled(request: Request) -> None:
    """404 unless the preview is switched on (dev mode or TOXHOOKS_PREVIEW_ENABLED)."""
    settings = _settings(request)
    if not (settings.dev or settings.preview_enabled):
        raise HTTPException(status_code=404, detail="Not Found")


def _page(name: str) -> FileResponse:
    """One of the static HTML pages."""
    return FileResponse(STATIC_DIR / name, media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)


def _error(status: int, message: str, field: str | None = None) -> JSONResponse:
    """A small JSON error the pages can show."""
    body: dict[str, Any] = {"error": message}
    if field:
        body["field"] = field
    return JSONResponse(body, status_code=status, headers=_NO_STORE)


async def _json_body(request: Request) -> Any:
    """The request body parsed as JSON; MalformedRequest-like 400 is raised by the caller."""
    raw = await request.body()
    return json.loads(raw)


# --- static assets ---------------------------------------------------------------------------


@router.get("/web/static/{path:path}", include_in_schema=False)
async def static_file(path: str) -> FileResponse:
    """Packaged JS, CSS and vendored files; nothing outside service/web/static is served."""
    target = (STATIC_DIR / path).resolve()
    if not target.is_relative_to(STATIC_DIR) or not target.is_file() or target.suffix == ".html":
        raise HTTPException(status_code=404, detail="Not Found")
    return FileResponse(target)


# --- card preview ----------------------------------------------------------------------------


@router.get("/preview", include_in_schema=False)
async def preview_page(request: Request) -> FileResponse:
    """The card preview page: pick or paste a CDS Hooks request and see the cards."""
    _preview_enabled(request)
    return _page("preview.html")


@router.get("/preview/samples", include_in_schema=False)
async def preview_samples(request: Request) -> JSONResponse:
    """The shipped sample requests: id, title, drug and hook of each."""
    _preview_enabled(request)
    index = json.loads((SAMPLES_DIR / "index.json").read_text(encoding="utf-8"))
    return JSONResponse(index["samples"])


@router.get("/preview/samples/{sample_id}", include_in_schema=False)
async def preview_sample(sample_id: str, request: Request) -> JSONResponse:
    """One sample request as JSON."""
    _preview_enabled(request)
    index = json.loads((SAMPLES_DIR / "index.json").read_text(encoding="utf-8"))
    files = {s["id"]: s["file"] for s in index["samples"]}
    if sample_id not in files:
        raise HTTPException(status_code=404, detail="Not Found")
    return JSONResponse(json.loads((SAMPLES_DIR / files[sample_id]).read_text(encoding="utf-8")))


@router.post("/preview/render", include_in_schema=False)
async def preview_render(request: Request) -> JSONResponse:
    """Evaluate a pasted request offline (same code as the hook endpoints) and shape its cards.

    `?now=` evaluates as of another moment (the samples are written for a fixed date).
    """
    _preview_enabled(request)
    from service.offline import evaluate_offline  # the service's offline path, same as HTTP

    try:
        body = await _json_body(request)
    except ValueError:
        return _error(400, "the request is not valid JSON")
    if not isinstance(body, dict):
        return _error(400, "a CDS Hooks request must be a JSON object")
    as_of = request.query_params.get("now")
    try:
        now = datetime.fromisoformat(as_of.replace("Z", "+00:00")) if as_of else _now(request)
    except ValueError:
        return _error(400, "now must be an ISO 8601 date-time", "now")
    if now.tzinfo is None:
        return _error(400, "now must carry a time zone", "now")
    try:
        # Grading and rules are CPU work: run them off the event loop.
        response = await run_in_threadpool(
            evaluate_offline, body, settings=_settings(request), knowledge=_knowledge(request), now=now
        )
    except RequestError as exc:
        return _error(exc.status_code, exc.message, exc.field)
    return JSONResponse({"response": response, "cards": display_cards(response)}, headers=_NO_STORE)


# --- SMART timeline app ----------------------------------------------------------------------


@router.get("/smart/launch", include_in_schema=False)
async def smart_launch() -> FileResponse:
    """SMART App Launch entry (EHR launch with iss+launch, or standalone with iss)."""
    return _page("launch.html")


@router.get("/smart/app", include_in_schema=False)
async def smart_app() -> FileResponse:
    """The timeline app (redirect_uri of the launch; development mode with fhir+patient)."""
    return _page("timeline.html")


@router.get("/smart/config", include_in_schema=False)
async def smart_config(request: Request) -> JSONResponse:
    """What the browser needs to launch: client id, scopes, whether development mode is on."""
    settings = _settings(request)
    return JSONResponse(
        {
            "clientId": settings.smart_client_id,
            "scope": SMART_SCOPES,
            "devEnabled": settings.dev or settings.preview_enabled,
        }
    )


def _knowledge_file(knowledge: KnowledgeBase, drug: str) -> KnowledgeFile | None:
    """The knowledge file of `drug`, if the knowledge has one."""
    item = knowledge.drugs.get(drug)
    return item.spec if item is not None else None


def _protocols(knowledge: KnowledgeBase, drug: str | None) -> tuple[Protocol, ...]:
    """Desensitization protocols the knowledge holds for `drug`."""
    if drug is None:
        return ()
    file = _knowledge_file(knowledge, drug)
    return protocols_from_knowledge(file) if file is not None else ()


def _optional_str(body: Mapping[str, Any], key: str) -> str | None:
    """An optional string field; ValueError names the field when it has another type."""
    value = body.get(key)
    if value is None or isinstance(value, str):
        return value or None
    raise ValueError(key)


@router.post("/smart/api/timeline", include_in_schema=False)
async def smart_timeline(request: Request) -> JSONResponse:
    """Shape the FHIR resources the app fetched with its own token into the timeline view.

    Nothing is stored and the resources are never logged: they are PHI.
    """
    settings = _settings(request)
    try:
        body = await _json_body(request)
    except ValueError:
        return _error(400, "the body is not valid JSON")
    if not isinstance(body, dict):
        return _error(400, "the body must be a JSON object")
    resources = body.get("resources")
    if not isinstance(resources, list) or not all(isinstance(r, dict) for r in resources):
        return _error(400, "resources must be a list of FHIR resources", "resources")
    if len(resources) > settings.max_resources:
        return _error(413, f"more than {settings.max_resources} resources", "resources")
    try:
        patient = _optional_str(body, "patient")
        drug = _optional_str(body, "drug")
        rule = _optional_str(body, "rule")
    except ValueError as exc:
        return _error(400, f"{exc.args[0]} must be a string", str(exc.args[0]))
    if patient is None:
        return _error(400, "patient is required", "patient")
    unavailable = body.get("unavailable", [])  # searches the app could not read (monitoring keys)
    if not isinstance(unavailable, list) or not all(isinstance(u, str) for u in unavailable):
        return _error(400, "unavailable must be a list of strings", "unavailable")
    knowledge = _knowledge(request)
    table = get_table(settings.ctcae_version)

    def grade_texts(term: str) -> tuple[str, ...] | None:
        found = table.lookup(term)
        return found.grades if found is not None else None

    try:
        view = await run_in_threadpool(
            build_timeline,
            resources,
            patient_id=patient,
            drug=drug,
            rule=rule,
            now=_now(request),
            knowledge=knowledge,
            ctcae_version=settings.ctcae_version,
            grade_texts=grade_texts,
            protocols=_protocols(knowledge, drug),
            unavailable=tuple(unavailable[:20]),
        )
    except RequestError as exc:
        return _error(exc.status_code, exc.message, exc.field)
    return JSONResponse(view, headers=_NO_STORE)


@router.get("/smart", include_in_schema=False)
async def smart_index() -> Response:
    """The timeline app's entry for people: the launch page explains how to start it."""
    return _page("launch.html")
