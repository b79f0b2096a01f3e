"""The floor: same framework and server as toxhooks, parses the JSON body and returns no cards."""

from __future__ import annotations

import orjson
from fastapi import FastAPI, Request, Response

__all__ = ["EMPTY_RESPONSE", "create_floor_app"]

EMPTY_RESPONSE = b'{"cards":[]}'


def create_floor_app() -> FastAPI:
    """A FastAPI app with the service's URL shapes whose hook handler only parses the body."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/readyz")
    async def readyz() -> Response:
        return Response(b'{"status":"ready"}', media_type="application/json")

    @app.get("/cds-services")
    async def discovery() -> Response:
        return Response(b'{"services":[]}', media_type="application/json")

    @app.post("/cds-services/{service_id}")
    async def hook(service_id: str, request: Request) -> Response:
        # orjson, as the service parses bodies: the floor is the cost of receiving and decoding.
        orjson.loads(await request.body())
        return Response(EMPTY_RESPONSE, media_type="application/json")

    return app
