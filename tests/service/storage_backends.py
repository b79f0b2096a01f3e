"""Database engines for the storage tests: a SQLite file, and PostgreSQL in a throw-away schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from service.storage.database import create_engine

__all__ = ["BACKENDS", "database_url_for", "engine_for"]

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@asynccontextmanager
async def engine_for(backend: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An empty database of the backend; PostgreSQL tests skip when no server is reachable."""
    if backend == "sqlite":
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
        try:
            yield engine
        finally:
            await engine.dispose()
        return
    url = os.environ.get("TOXHOOKS_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("TOXHOOKS_TEST_POSTGRES_URL is not set")
    schema = f"toxhooks_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(url)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # unreachable server, refused login, missing database...
        await admin.dispose()
        pytest.skip(f"PostgreSQL not reachable: {type(exc).__name__}")
    engine = create_async_engine(url, connect_args={"server_settings": {"search_path": schema}})
    try:
        yield engine
    finally:
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@asynccontextmanager
async def database_url_for(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database of the backend, migrated to head (a new PostgreSQL database)."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
        return
    url = os.environ.get("TOXHOOKS_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("TOXHOOKS_TEST_POSTGRES_URL is not set")
    name = f"toxhooks_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # unreachable server, no CREATEDB right...
        await admin.dispose()
        pytest.skip(f"PostgreSQL not usable: {type(exc).__name__}")
    target = make_url(url).set(database=name).render_as_string(hide_password=False)
    try:
        yield target
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
