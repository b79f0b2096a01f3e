"""Request dependencies: the app state, the authenticated caller and the size-limited JSON body."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from service.auth import Principal
from service.body import check_content_type, parse_json
from service.errors import PayloadTooLarge
from service.state import AppState

__all__ = ["Caller", "State", "audience", "get_state", "read_body"]


def get_state(request: Request) -> AppState:
    """The AppState that create_app put on the app."""
    state: AppState = request.app.state.toxhooks
    return state


State = Annotated[AppState, Depends(get_state)]


def audience(request: Request, public_base_url: str | None) -> str:
    """The exact URL called, as the client saw it (public_base_url replaces scheme and host)."""
    if public_base_url:
        return public_base_url.rstrip("/") + request.url.path
    return str(request.url.replace(query=None, fragment=None))


async def authenticate(request: Request, state: State) -> Principal:
    """Verify the caller's JWT against the exact URL called (spec: Trusting CDS Clients)."""
    return await state.authenticator.authenticate(
        request.headers.get("authorization"), audience(request, state.settings.public_base_url)
    )


Caller = Annotated[Principal, Depends(authenticate)]


async def read_body(request: Request, state: AppState) -> Any:
    """The JSON body within the limits: 415 wrong type, 413 too large, 400 too deep or invalid."""
    check_content_type(request.headers.get("content-type"))
    limit = state.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes", field="body")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is larger than {limit} bytes", field="body")
        chunks.append(chunk)
    return parse_json(
        b"".join(chunks),
        max_bytes=limit,
        max_depth=state.settings.max_json_depth,
        max_resources=state.settings.max_resources,
    )
