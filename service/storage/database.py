"""Engine set-up (SQLite in WAL mode or PostgreSQL), schema revision check and upgrade."""

from __future__ import annotations

from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from service.errors import ConfigurationError

__all__ = ["create_engine", "ensure_schema", "is_sqlite", "schema_revision", "upgrade"]


def is_sqlite(url: str) -> bool:
    """The embedded default (SQLite) rather than a server database."""
    return url.startswith("sqlite")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the writer; synchronous=FULL makes each commit durable
    # before we answer 200; busy_timeout waits for a concurrent writer instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    """An async engine for the URL; SQLite connections get WAL and durable commits."""
    engine = create_async_engine(url, pool_pre_ping=not is_sqlite(url))
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("service.storage") / "migrations"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _heads() -> set[str]:
    return set(ScriptDirectory.from_config(_alembic_config()).get_heads())


def _known_revisions() -> set[str]:
    script = ScriptDirectory.from_config(_alembic_config())
    return {rev.revision for rev in script.walk_revisions()}


async def schema_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    async with engine.connect() as conn:
        return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations up to `revision` (`toxhooks db upgrade`)."""
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(_alembic_config(sync), revision))


async def ensure_schema(engine: AsyncEngine, *, auto_upgrade: bool) -> None:
    """Refuse an unknown revision; upgrade an old or empty schema when allowed, else refuse."""
    current = await schema_revision(engine)
    if current is not None and current not in _known_revisions():
        raise ConfigurationError(
            f"the database schema is at revision {current!r}, which this version of toxhooks does not "
            "know (a newer release migrated it); refusing to start"
        )
    if current in _heads():
        return
    if not auto_upgrade:
        raise ConfigurationError(
            f"the database schema is at revision {current!r}, not the current one; run `toxhooks db upgrade`"
        )
    await upgrade(engine)
