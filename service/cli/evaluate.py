"""`toxhooks evaluate REQUEST.json`: one hook request through the service pipeline, printed as JSON."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import orjson
import typer

from service.body import parse_json
from service.error_handlers import operation_outcome
from service.errors import MalformedRequest, RequestError, ToxhooksError
from service.offline import evaluate_offline, evaluate_with_fhir
from service.settings import Settings

__all__ = ["register"]


def _print(value: Any, *, stream: Any = None) -> None:
    (stream or sys.stdout).write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def evaluate(
    request: Annotated[Path, typer.Argument(help="A CDS Hooks request body (JSON file, '-' for stdin).")],
    fhir_server: Annotated[
        str | None,
        typer.Option(
            help="Fetch what prefetch lacks from this FHIR server (replaces the request's fhirServer)."
        ),
    ] = None,
    service: Annotated[
        str | None, typer.Option(help="CDS service id (default: the service for the request's hook).")
    ] = None,
    now: Annotated[
        datetime | None, typer.Option(help="Evaluate as of this time (ISO 8601; default: now).")
    ] = None,
) -> None:
    """Run one hook request as the HTTP route would and print the response JSON.

    Errors print an OperationOutcome on stderr; exit status 1 for a bad request or missing data
    (the HTTP 4xx cases), 2 for a configuration problem.
    """
    settings = Settings()
    try:
        raw = sys.stdin.buffer.read() if str(request) == "-" else request.read_bytes()
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {request}: {exc.strerror}") from None
    moment = now.astimezone() if now is not None and now.tzinfo is None else now
    try:
        body = parse_json(
            raw,
            max_bytes=settings.max_body_bytes,
            max_depth=settings.max_json_depth,
            max_resources=settings.max_resources,
        )
        if not isinstance(body, dict):
            raise MalformedRequest("the body must be a JSON object", field="body")
        if fhir_server is not None:
            body = {**body, "fhirServer": fhir_server.rstrip("/")}
            response = asyncio.run(_with_fhir(body, settings, moment, service))
        else:
            response = evaluate_offline(body, settings=settings, now=moment, service_id=service)
    except RequestError as exc:
        expression = list(getattr(exc, "missing", ())) or ([exc.field] if exc.field else None)
        _print(operation_outcome(exc.message, code=exc.issue_code, expression=expression), stream=sys.stderr)
        raise typer.Exit(1) from None
    except ToxhooksError as exc:
        _print(operation_outcome(str(exc), code="exception"), stream=sys.stderr)
        raise typer.Exit(2) from None
    _print(response)


async def _with_fhir(
    body: dict[str, Any], settings: Settings, now: datetime | None, service: str | None
) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        return await evaluate_with_fhir(body, client=client, settings=settings, now=now, service_id=service)


def register(app: typer.Typer) -> None:
    """Add `evaluate` to the CLI."""
    app.command("evaluate")(evaluate)
