"""`toxhooks db`: database schema commands (Alembic migrations shipped in the package)."""

from __future__ import annotations

import asyncio

import typer

from service.settings import Settings
from service.storage.database import create_engine, schema_revision, upgrade

__all__ = ["register"]

db_app = typer.Typer(help="Database schema: show the revision, apply migrations.", no_args_is_help=True)


async def _upgrade(url: str, revision: str) -> str | None:
    engine = create_engine(url)
    try:
        await upgrade(engine, revision)
        return await schema_revision(engine)
    finally:
        await engine.dispose()


async def _current(url: str) -> str | None:
    engine = create_engine(url)
    try:
        return await schema_revision(engine)
    finally:
        await engine.dispose()


@db_app.command("upgrade")
def upgrade_command(
    revision: str = typer.Argument("head", help="Target revision (default: the latest)."),
) -> None:
    """Apply migrations to TOXHOOKS_DATABASE_URL up to REVISION."""
    settings = Settings()
    reached = asyncio.run(_upgrade(settings.database_url, revision))
    typer.echo(f"database schema at revision {reached}")


@db_app.command("current")
def current_command() -> None:
    """Print the schema revision of TOXHOOKS_DATABASE_URL ("none" for an empty database)."""
    settings = Settings()
    typer.echo(asyncio.run(_current(settings.database_url)) or "none")


def register(app: typer.Typer) -> None:
    """Add the `db` command group to the CLI."""
    app.add_typer(db_app, name="db")
