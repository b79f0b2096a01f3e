"""The one place that maps toxhooks errors (and framework errors) to HTTP with an OperationOutcome."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import AuthenticationFailed, PreconditionFailed, RequestError, field_path

__all__ = ["InternalErrorMiddleware", "install_error_handlers", "operation_outcome"]

log = logging.getLogger(__name__)

_HTTP_ISSUE = {404: "not-found", 405: "not-supported", 413: "too-costly", 415: "not-supported"}


def operation_outcome(
    message: str, *, code: str = "invalid", expression: list[str] | None = None, severity: str = "error"
) -> dict[str, Any]:
    """A FHIR OperationOutcome with one issue (CDS Hooks 3.0 ballot: non-2xx bodies)."""
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": message}
    if expression:
        issue["expression"] = expression
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def _respond(status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/fhir+json", headers=headers
    )


def _request_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestError)
    if isinstance(exc, AuthenticationFailed):
        # Bare 401: the reason is for logs and metrics only (spec best practice); the
        # authenticator has logged and counted it already.
        body = operation_outcome("authentication failed", code=exc.issue_code)
        return _respond(401, body, {"WWW-Authenticate": "Bearer"})
    if isinstance(exc, PreconditionFailed) and exc.missing:
        outcome = operation_outcome(exc.message, code=exc.issue_code, expression=list(exc.missing))
        return _respond(412, outcome)
    expression = [exc.field] if exc.field else None
    return _respond(
        exc.status_code, operation_outcome(exc.message, code=exc.issue_code, expression=expression)
    )


def _validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI's 422 becomes a 400 naming the field (never the framework's raw body)."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {}
    path = field_path(first.get("loc", ()))
    message = f"{path}: {first.get('msg', 'invalid request')}"
    return _respond(400, operation_outcome(message, expression=[path]))


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_ISSUE.get(exc.status_code, "processing")
    return _respond(exc.status_code, operation_outcome(str(exc.detail), code=code), exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    """Register the mapping: RequestError by its status, 422 -> 400, HTTP errors as OperationOutcome."""
    app.add_exception_handler(RequestError, _request_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_middleware(InternalErrorMiddleware)


class InternalErrorMiddleware:
    """Any other failure: 500 with a generic OperationOutcome; details (never PHI) go to the log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            # Type and frames only: messages of lower layers may quote request data (PHI).
            log.error(
                "internal error while handling %s: %s\n%s",
                scope.get("path"),
                type(exc).__name__,
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            if started:
                raise
            body = operation_outcome("internal error", code="exception")
            await _respond(500, body)(scope, receive, send)
