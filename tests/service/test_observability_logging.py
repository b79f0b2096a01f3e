"""Structured logs: JSON lines with request context, credentials scrubbed, server loggers routed."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from service.errors import ConfigurationError
from service.observability.context import bind_hook_instance
from service.observability.logging import JsonFormatter, RedactingFilter, configure_logging
from service.observability.metrics import install_metrics
from service.observability.redaction import redact
from service.settings import Settings

JWT = (
    "eyJhbGciOiJFUzM4NCIsInR5cCI6IkpXVCJ9."
    "eyJpc3MiOiJodHRwczovL2VociIsImp0aSI6IjEyMyJ9."
    "MEUCIQDx0Z3j4hFqQ7u2y6F2r9eXj1a5m3kV8oB7Q9s0pL4wYw"
)


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Log lines written by a JSON handler configured like production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("toxhooks.test")
    access = logging.getLogger("toxhooks.access")
    for each in (logger, access):
        each.addHandler(handler)
        each.setLevel(logging.DEBUG)
    yield stream
    for each in (logger, access):
        each.removeHandler(handler)
        each.setLevel(logging.NOTSET)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"token was {JWT}", JWT),
        ("Authorization: Bearer abcdefghijklmnop1234", "abcdefghijklmnop1234"),
        ('{"access_token": "s3cr3t-value-xyz", "scope": "patient/*.read"}', "s3cr3t-value-xyz"),
        ("fhirAuthorization=opaque-token-987;", "opaque-token-987"),
        ("postgresql+asyncpg://toxhooks:hunter2pw@db:5432/toxhooks", "hunter2pw"),
    ],
)
def test_redact_removes_credentials(text: str, secret: str) -> None:
    scrubbed = redact(text)
    assert secret not in scrubbed
    assert "[REDACTED]" in scrubbed


def test_redact_keeps_ordinary_text() -> None:
    text = "grade 3 CPK increased for service mx-order-sign in 12.5 ms"
    assert redact(text) == text


def test_json_line_has_context_and_no_token(captured: io.StringIO) -> None:
    logger = logging.getLogger("toxhooks.test")
    logger.info("rejected call with %s", JWT, extra={"authorization": "Bearer xyz", "reason": "expired"})
    [entry] = lines(captured)
    assert entry["level"] == "INFO"
    assert entry["logger"] == "toxhooks.test"
    assert JWT not in json.dumps(entry)
    assert entry["authorization"] == "[REDACTED]"
    assert entry["reason"] == "expired"
    assert "request_id" not in entry  # outside a request


def test_exception_text_is_scrubbed(captured: io.StringIO) -> None:
    logger = logging.getLogger("toxhooks.test")
    try:
        raise ValueError(f"bad token {JWT}")
    except ValueError:
        logger.exception("failed")
    [entry] = lines(captured)
    assert "ValueError" in str(entry["exception"])
    assert JWT not in str(entry["exception"])


async def test_request_lines_carry_request_id_and_hook_instance(captured: io.StringIO) -> None:
    app = FastAPI()

    @app.post("/cds-services/{service_id}")
    async def hook(service_id: str) -> dict[str, object]:
        bind_hook_instance("d1577c69-dfbe-44ad-ba6d-3e05e953b2ea")
        logging.getLogger("toxhooks.test").info("evaluated")
        return {"cards": []}

    install_metrics(app, endpoint=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post("/cds-services/x", json={}, headers={"X-Request-ID": "req-7"})
    assert response.status_code == 200
    handler_line, access_line = lines(captured)
    for entry in (handler_line, access_line):
        assert entry["request_id"] == "req-7"
        assert entry["hookInstance"] == "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"
    assert access_line["route"] == "/cds-services/{service_id}"
    assert access_line["status"] == 200
    assert isinstance(access_line["duration_ms"], float)


def test_hook_instance_that_is_not_an_identifier_is_dropped(captured: io.StringIO) -> None:
    from service.observability.context import current_hook_instance, reset_request, start_request

    _, tokens = start_request("r1")
    try:
        bind_hook_instance("John Smith 1970-01-01")
        assert current_hook_instance() is None
    finally:
        reset_request(tokens)


def test_configure_logging_installs_one_handler_and_routes_server_loggers() -> None:
    root = logging.getLogger()
    saved_level = root.level
    try:
        configure_logging(Settings(log_level="warning", log_json=True))
        configure_logging(Settings(log_level="debug", log_json=False))
        ours = [h for h in root.handlers if h.get_name() == "toxhooks"]
        assert len(ours) == 1
        assert root.level == logging.DEBUG
        assert not isinstance(ours[0].formatter, JsonFormatter)
        assert logging.getLogger("uvicorn.error").propagate
        assert not logging.getLogger("uvicorn.error").handlers
        assert logging.getLogger("httpx").level == logging.WARNING  # request URLs name patients
    finally:
        for handler in [h for h in root.handlers if h.get_name() == "toxhooks"]:
            root.removeHandler(handler)
        root.setLevel(saved_level)
        logging.getLogger("uvicorn.access").disabled = False


def test_unknown_log_level_stops_start_up() -> None:
    with pytest.raises(ConfigurationError, match="log_level 'loud'"):
        configure_logging(Settings(log_level="loud"))


async def test_access_line_can_be_switched_off(captured: io.StringIO) -> None:
    """With access_log off the request is still counted, but no access line is written."""
    app = FastAPI()

    @app.post("/cds-services/{service_id}")
    async def hook(service_id: str) -> dict[str, object]:
        return {"cards": []}

    install_metrics(app, endpoint=False, access_log=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post("/cds-services/x", json={}, headers={"X-Request-ID": "req-8"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req-8"
    assert lines(captured) == []
