"""The `toxhooks` command: one sub-module per command group, registered here."""

from __future__ import annotations

import typer

from service.cli import db, evaluate, feedback_stats, grade, knowledge, serve

__all__ = ["app", "main"]

app = typer.Typer(
    name="toxhooks",
    help="CDS Hooks service for the toxicities of targeted cancer drugs.",
    no_args_is_help=True,
    add_completion=False,
)

for module in (serve, evaluate, grade, knowledge, feedback_stats, db):
    module.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
