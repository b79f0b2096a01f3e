"""`toxhooks serve`: start the HTTP service (uvicorn)."""

from __future__ import annotations

import asyncio
import os
import tempfile
from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from service.app import create_app
from service.errors import ConfigurationError
from service.observability.listener import MetricsListener, start_metrics_listener
from service.observability.metrics import MULTIPROC_ENV, prepare_multiprocess_dir
from service.settings import Settings
from service.storage.database import create_engine, ensure_schema, is_sqlite

__all__ = ["register"]

_LOOPBACK = "127.0.0.1"


async def _check_schema(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    try:
        await ensure_schema(engine, auto_upgrade=is_sqlite(settings.database_url))
    finally:
        await engine.dispose()


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default TOXHOOKS_HOST, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default TOXHOOKS_PORT, 8080).")] = None,
    dev: Annotated[
        bool, typer.Option("--dev", help="Development mode: 127.0.0.1 only, calls accepted without a JWT.")
    ] = False,
) -> None:
    """Start the CDS Hooks service.

    Without --dev at least one trusted issuer (TOXHOOKS_TRUSTED_ISSUERS) must be configured, or
    the service refuses to start. The embedded SQLite database is created and upgraded at start;
    a PostgreSQL database must be upgraded first with `toxhooks db upgrade`.
    """
    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if dev:
        if host not in (None, _LOOPBACK, "localhost"):
            typer.secho("toxhooks: --dev binds to 127.0.0.1 only; --host is not allowed with it", err=True)
            raise typer.Exit(2)
        overrides.update(dev=True, host=_LOOPBACK)
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]  # validated by pydantic-settings
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        typer.secho(
            f"toxhooks: refusing to start: invalid settings: {problems}", fg=typer.colors.RED, err=True
        )
        raise typer.Exit(2) from None
    if settings.dev:
        typer.secho(
            "WARNING: DEVELOPMENT MODE. Calls are accepted WITHOUT authentication (no JWT checked).\n"
            "WARNING: bound to 127.0.0.1 only. Never use --dev with real patient data.",
            fg=typer.colors.RED,
            bold=True,
            err=True,
        )
        settings = settings.model_copy(update={"host": _LOOPBACK})
    if settings.workers > 1 and settings.metrics_port is not None and not os.environ.get(MULTIPROC_ENV):
        # The listener runs in the supervisor: it can only see the workers through these files.
        os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="toxhooks-metrics-")
    if settings.workers > 1:
        prepare_multiprocess_dir()  # before any worker starts: stale files would be summed in
    try:
        app = create_app(settings)
        asyncio.run(_check_schema(settings))
    except ConfigurationError as exc:
        typer.secho(f"toxhooks: refusing to start: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    listener = _metrics_listener(settings)
    try:
        _run(app, settings)
    finally:
        if listener is not None:
            listener.close()


def _metrics_listener(settings: Settings) -> MetricsListener | None:
    """The private /metrics listener when TOXHOOKS_METRICS_PORT is set; exit 2 if its port is taken."""
    if settings.metrics_port is None:
        return None
    try:
        return start_metrics_listener(settings.metrics_host, settings.metrics_port)
    except OSError as exc:
        typer.secho(
            f"toxhooks: refusing to start: metrics listener {settings.metrics_host}:{settings.metrics_port}: "
            f"{exc.strerror or exc}",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(2) from None


def _run(app: FastAPI, settings: Settings) -> None:
    """uvicorn: the app itself with one worker, or worker processes built from the environment."""
    if settings.workers > 1:
        # Workers build their own app from the environment; carry the command-line choices there.
        os.environ["TOXHOOKS_DEV"] = "true" if settings.dev else "false"
        uvicorn.run(
            "service.main:app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_config=None,
            timeout_graceful_shutdown=int(settings.graceful_shutdown_s),
        )
        return
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # logging is configured by the app (service.observability)
        timeout_graceful_shutdown=int(settings.graceful_shutdown_s),
    )


def register(app: typer.Typer) -> None:
    """Add `serve` to the CLI."""
    app.command("serve")(serve)
