"""Authentication through the HTTP app: bare 401s, the exact URL as audience, open health checks, CORS."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI

from service.app import create_app
from service.settings import Settings, TrustedIssuer
from tests.service.test_auth_ehr import SANDBOX_ISS, SANDBOX_JKU, Ehr

BASE = "https://toxhooks.example.org"
PUBLIC_BASE = "https://cds.example-hospital.org/toxhooks"
PATIENT_VIEW = "/cds-services/toxhooks-patient-view"
FEEDBACK = "/cds-services/toxhooks-patient-view/feedback"
PREFETCH_KEYS = ("labs", "medications", "conditions", "adverseEvents")
BARE_401 = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "error", "code": "login", "diagnostics": "authentication failed"}],
}


def hook_request() -> dict[str, Any]:
    """A patient-view call with everything prefetched (an empty record)."""
    prefetch: dict[str, Any] = {key: {"resourceType": "Bundle", "type": "searchset"} for key in PREFETCH_KEYS}
    prefetch["patient"] = {"resourceType": "Patient", "id": "p1"}
    return {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/1", "patientId": "p1"},
        "prefetch": prefetch,
    }


def feedback_request() -> dict[str, Any]:
    entry = {"card": str(uuid.uuid4()), "outcome": "accepted", "outcomeTimestamp": "2026-11-22T04:00:00Z"}
    return {"feedback": [entry]}


@pytest.fixture
def sandbox() -> Ehr:
    return Ehr(SANDBOX_ISS, jku=SANDBOX_JKU)


@pytest.fixture
def jwks_online(sandbox: Ehr) -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        router.get(SANDBOX_JKU).respond(200, json=sandbox.jwks())
        yield router


async def running(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with httpx.AsyncClient() as outbound:
        app = create_app(settings, http_client=outbound)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
                yield app, client


def secure_settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(
        trusted_issuers=[TrustedIssuer(iss=SANDBOX_ISS, jku=[SANDBOX_JKU])],
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'toxhooks.db'}",
        log_level="WARNING",
        **values,
    )


@pytest.fixture
async def client(tmp_path: Path, jwks_online: respx.MockRouter) -> AsyncIterator[httpx.AsyncClient]:
    async for _, client in running(secure_settings(tmp_path)):
        yield client


def token(ehr: Ehr, audience: str, **claims: Any) -> dict[str, str]:
    now = int(time.time())
    return {"Authorization": ehr.bearer(audience, iat=now, exp=now + 300, **claims)}


@pytest.mark.parametrize(
    ("path", "body"), [(PATIENT_VIEW, hook_request), (FEEDBACK, feedback_request)], ids=["hook", "feedback"]
)
async def test_good_token_for_the_exact_url_is_served(
    client: httpx.AsyncClient, sandbox: Ehr, path: str, body: Any
) -> None:
    response = await client.post(path, json=body(), headers=token(sandbox, BASE + path))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["missing", "garbage", "basic"],
)
@pytest.mark.parametrize(("path", "body"), [(PATIENT_VIEW, hook_request), (FEEDBACK, feedback_request)])
async def test_refusals_are_a_bare_401(
    client: httpx.AsyncClient, headers: dict[str, str], path: str, body: Any
) -> None:
    response = await client.post(path, json=body(), headers=headers)
    assert response.status_code == 401
    assert response.json() == BARE_401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_token_for_another_service_is_refused(client: httpx.AsyncClient, sandbox: Ehr) -> None:
    other = token(sandbox, BASE + "/cds-services/toxhooks-order-sign")
    response = await client.post(PATIENT_VIEW, json=hook_request(), headers=other)
    assert response.status_code == 401 and response.json() == BARE_401


async def test_token_for_the_feedback_url_does_not_open_the_service(
    client: httpx.AsyncClient, sandbox: Ehr
) -> None:
    response = await client.post(PATIENT_VIEW, json=hook_request(), headers=token(sandbox, BASE + FEEDBACK))
    assert response.status_code == 401


async def test_replayed_token_is_refused(client: httpx.AsyncClient, sandbox: Ehr) -> None:
    headers = token(sandbox, BASE + PATIENT_VIEW)
    assert (await client.post(PATIENT_VIEW, json=hook_request(), headers=headers)).status_code == 200
    replay = await client.post(PATIENT_VIEW, json=hook_request(), headers=headers)
    assert replay.status_code == 401 and replay.json() == BARE_401


async def test_unknown_service_is_not_revealed_before_authentication(client: httpx.AsyncClient) -> None:
    response = await client.post("/cds-services/does-not-exist", json=hook_request())
    assert response.status_code == 401


async def test_health_endpoints_need_no_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).status_code == 200


async def test_refusal_log_names_the_reason_not_the_token(
    client: httpx.AsyncClient, sandbox: Ehr, caplog: pytest.LogCaptureFixture
) -> None:
    headers = token(sandbox, BASE + "/cds-services/toxhooks-order-sign")
    with caplog.at_level(logging.INFO):
        await client.post(PATIENT_VIEW, json=hook_request(), headers=headers)
    assert "audience" in caplog.text
    jwt = headers["Authorization"].removeprefix("Bearer ")
    for part in jwt.split("."):
        assert part not in caplog.text


async def test_behind_a_proxy_the_audience_is_the_public_url(
    tmp_path: Path, sandbox: Ehr, jwks_online: respx.MockRouter
) -> None:
    async for _, client in running(secure_settings(tmp_path, public_base_url=PUBLIC_BASE)):
        public = await client.post(
            PATIENT_VIEW, json=hook_request(), headers=token(sandbox, PUBLIC_BASE + PATIENT_VIEW)
        )
        assert public.status_code == 200, public.text
        internal = await client.post(
            PATIENT_VIEW, json=hook_request(), headers=token(sandbox, BASE + PATIENT_VIEW)
        )
        assert internal.status_code == 401


async def test_cors_is_off_by_default(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        PATIENT_VIEW,
        headers={"Origin": "https://sandbox.cds-hooks.org", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


async def test_cors_allows_only_listed_origins(tmp_path: Path, jwks_online: respx.MockRouter) -> None:
    allowed = "https://sandbox.cds-hooks.org"
    async for _, client in running(secure_settings(tmp_path, cors_origins=[allowed])):
        ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
        ok = await client.options(PATIENT_VIEW, headers={"Origin": allowed, **ask})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == allowed
        other = await client.options(PATIENT_VIEW, headers={"Origin": "https://evil.example.net", **ask})
        assert other.headers.get("access-control-allow-origin") != "https://evil.example.net"
        assert "access-control-allow-origin" not in other.headers


async def test_discovery_needs_a_token_like_every_call_but_health(
    client: httpx.AsyncClient, sandbox: Ehr
) -> None:
    assert (await client.get("/cds-services")).status_code == 401
    ok = await client.get("/cds-services", headers=token(sandbox, BASE + "/cds-services"))
    assert ok.status_code == 200


async def test_a_spoofed_host_header_does_not_change_the_audience_behind_a_proxy(
    tmp_path: Path, sandbox: Ehr, jwks_online: respx.MockRouter
) -> None:
    # A token the EHR minted for some other deployment, replayed here with that deployment's Host.
    elsewhere = "https://other-deployment.example.net"
    async for _, client in running(secure_settings(tmp_path, public_base_url=PUBLIC_BASE)):
        response = await client.post(
            PATIENT_VIEW,
            json=hook_request(),
            headers={**token(sandbox, elsewhere + PATIENT_VIEW), "Host": "other-deployment.example.net"},
        )
        assert response.status_code == 401


# -- CORS for browser clients: loopback in dev mode, an explicit list otherwise -------------

PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "Authorization, Content-Type",
}


def dev_settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(dev=True, database_url=f"sqlite+aiosqlite:///{tmp_path / 'toxhooks.db'}", **values)


@pytest.mark.parametrize(
    "origin", ["http://localhost:3000", "http://127.0.0.1:8080", "http://[::1]:5173", "http://localhost"]
)
async def test_dev_mode_answers_the_preflight_of_loopback_origins(tmp_path: Path, origin: str) -> None:
    async for _, client in running(dev_settings(tmp_path)):
        preflight = await client.options(PATIENT_VIEW, headers={"Origin": origin, **PREFLIGHT})
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == origin
        allowed = {h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")}
        assert {"authorization", "content-type"} <= allowed
        assert "POST" in preflight.headers["access-control-allow-methods"]
        # The actual calls carry the header too, so the browser lets the client read them.
        listing = await client.get("/cds-services", headers={"Origin": origin})
        assert listing.status_code == 200
        assert listing.headers["access-control-allow-origin"] == origin


@pytest.mark.parametrize(
    "origin",
    [
        "https://sandbox.cds-hooks.org",
        "http://localhost.attacker.example.net:3000",
        "http://127.0.0.1.nip.io",
        "http://evil.example.net",
        "null",
    ],
)
async def test_dev_mode_does_not_open_cors_beyond_loopback(tmp_path: Path, origin: str) -> None:
    async for _, client in running(dev_settings(tmp_path)):
        preflight = await client.options(PATIENT_VIEW, headers={"Origin": origin, **PREFLIGHT})
        assert "access-control-allow-origin" not in preflight.headers
        listing = await client.get("/cds-services", headers={"Origin": origin})
        assert "access-control-allow-origin" not in listing.headers


async def test_production_does_not_allow_loopback_origins_unless_listed(
    client: httpx.AsyncClient,
) -> None:
    preflight = await client.options(PATIENT_VIEW, headers={"Origin": "http://localhost:3000", **PREFLIGHT})
    assert "access-control-allow-origin" not in preflight.headers


async def test_production_preflight_from_a_listed_origin_names_authorization(
    tmp_path: Path, jwks_online: respx.MockRouter, sandbox: Ehr
) -> None:
    origin = "https://sandbox.cds-hooks.org"
    async for _, client in running(secure_settings(tmp_path, cors_origins=[origin])):
        preflight = await client.options("/cds-services", headers={"Origin": origin, **PREFLIGHT})
        assert preflight.status_code == 200
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        # A refusal is readable by the browser client too (it must see the 401).
        refused = await client.get("/cds-services", headers={"Origin": origin})
        assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == origin


@pytest.mark.parametrize(
    ("origins", "message"),
    [
        (["*"], "exact origins"),
        (["null"], "exact origins"),
        (["https://sandbox.cds-hooks.org/"], "no path"),
        (["https://sandbox.cds-hooks.org/app"], "no path"),
        (["http://sandbox.example-hospital.org"], "https"),
        (["sandbox.cds-hooks.org"], "scheme://host"),
        (["https://user:pw@sandbox.cds-hooks.org"], "credentials"),
        (["https://Sandbox.CDS-Hooks.org"], "lower case"),
        (["https://sandbox.cds-hooks.org:443"], "default port"),
    ],
)
def test_cors_origins_must_be_exact_https_origins(origins: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings(cors_origins=origins)


def test_cors_origins_accept_exact_origins() -> None:
    origins = ["https://sandbox.cds-hooks.org", "https://ehr.example.org:8443", "http://localhost:3000"]
    assert Settings(cors_origins=origins).cors_origins == origins
    assert Settings().cors_origin_regex() is None
    assert Settings(dev=True).cors_origin_regex() is not None


# -- /metrics: off the service port; the private listener started by `toxhooks serve` -----


def test_metrics_port_must_differ_from_the_service_port() -> None:
    with pytest.raises(ValueError, match="differ"):
        Settings(port=8080, metrics_port=8080)
    assert Settings().metrics_port is None and Settings().metrics_host == "127.0.0.1"
    assert Settings().metrics_on_service_port is False


async def test_metrics_are_not_on_the_service_port_by_default(client: httpx.AsyncClient) -> None:
    assert (await client.get("/metrics")).status_code in (401, 404)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.slow
def test_serve_starts_the_private_metrics_listener(tmp_path: Path) -> None:
    port, metrics_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOXHOOKS_")}
    env.update(
        TOXHOOKS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'toxhooks.db'}",
        TOXHOOKS_METRICS_PORT=str(metrics_port),
        TOXHOOKS_LOG_LEVEL="WARNING",
    )
    cli = [sys.executable, "-c", "from service.cli import main; main()"]
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [*cli, "serve", "--dev", "--port", str(port)], env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        httpx.post(f"http://127.0.0.1:{port}{PATIENT_VIEW}", json=hook_request())
        assert httpx.get(f"http://127.0.0.1:{port}/metrics").status_code == 404
        scrape = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert scrape.status_code == 200
        assert 'route="/cds-services/{service_id}"' in scrape.text
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], run: Any = None
) -> tuple[Any, list[Any]]:
    """`toxhooks serve --dev` with uvicorn replaced (by `run` if given): (CLI result, uvicorn.run calls)."""
    from typer.testing import CliRunner

    from service.cli import app as cli

    monkeypatch.setenv("TOXHOOKS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("TOXHOOKS_LOG_JSON", "false")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    started: list[Any] = []
    monkeypatch.setattr("service.cli.serve.uvicorn.run", run or (lambda *a, **k: started.append(k)))
    return CliRunner().invoke(cli, ["serve", "--dev"]), started


def test_serve_refuses_a_wildcard_cors_origin_with_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, started = _serve(tmp_path, monkeypatch, {"TOXHOOKS_CORS_ORIGINS": '["*"]'})
    assert result.exit_code == 2 and started == []
    assert "refusing to start" in result.stderr and "cors_origins" in result.stderr
    assert "Traceback" not in result.output


def test_serve_refuses_to_start_when_the_metrics_port_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result, started = _serve(tmp_path, monkeypatch, {"TOXHOOKS_METRICS_PORT": port})
    assert result.exit_code == 2 and started == []
    assert "metrics listener" in result.stderr


def test_serve_runs_the_metrics_listener_alongside_the_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    port = _free_port()

    def fake_run(*args: Any, **kwargs: Any) -> None:
        seen.append(httpx.get(f"http://127.0.0.1:{port}/metrics").status_code)

    result, _ = _serve(tmp_path, monkeypatch, {"TOXHOOKS_METRICS_PORT": str(port)}, run=fake_run)
    assert result.exit_code == 0, result.output
    assert seen == [200]
    with pytest.raises(httpx.TransportError):  # closed when the server stops
        httpx.get(f"http://127.0.0.1:{port}/metrics")
