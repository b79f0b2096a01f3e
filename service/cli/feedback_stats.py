"""`toxhooks feedback`: what clinicians did with the cards (acceptance and override rates)."""

from __future__ import annotations

import asyncio

import typer

from service.settings import Settings
from service.storage.database import create_engine, ensure_schema, is_sqlite
from service.storage.feedback_store import FeedbackStore, StatsRow

__all__ = ["register"]

feedback_app = typer.Typer(help="Card feedback stored by the service.", no_args_is_help=True)


async def _stats(url: str) -> list[StatsRow]:
    engine = create_engine(url)
    try:
        await ensure_schema(engine, auto_upgrade=is_sqlite(url))
        return await FeedbackStore(engine).stats()
    finally:
        await engine.dispose()


_ROW = "{:<8} {:<48} {:>8} {:>10} {:>6} {:>9} {:>9}"


def format_stats(rows: list[StatsRow]) -> str:
    """A plain-text table: scope, name, counts and rates."""
    header = _ROW.format("scope", "name", "accepted", "overridden", "total", "accept%", "override%")
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            _ROW.format(
                row.scope,
                row.name,
                row.accepted,
                row.overridden,
                row.total,
                f"{row.acceptance_rate * 100:.1f}%",
                f"{row.override_rate * 100:.1f}%",
            )
        )
    if not rows:
        lines.append("(no feedback stored)")
    return "\n".join(lines)


@feedback_app.command("stats")
def stats_command() -> None:
    """Acceptance and override counts and rates per service and per rule."""
    settings = Settings()
    typer.echo(format_stats(asyncio.run(_stats(settings.database_url))))


def register(app: typer.Typer) -> None:
    """Add the `feedback` command group to the CLI."""
    app.add_typer(feedback_app, name="feedback")
