"""`toxhooks knowledge check [PATH]` and `toxhooks knowledge list`: knowledge files without the server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cards.errors import KnowledgeError
from cards.loader import BUILTIN_DIR, DrugKnowledge, load_file, load_knowledge

__all__ = ["register"]

knowledge_app = typer.Typer(help="Validate and list the drug knowledge files.", no_args_is_help=True)


def _site_dir(directory: Path | None) -> Path | None:
    """The site directory: the option, else the TOXHOOKS_KNOWLEDGE_DIR setting."""
    if directory is not None:
        return directory
    from service.settings import get_settings

    return get_settings().knowledge_dir


def _summary(item: DrugKnowledge) -> str:
    spec = item.spec
    unverified = sum(not r.verified for r in spec.rules)
    extra = f", {unverified} unverified" if unverified else ""
    return f"{spec.drug} {spec.version}: {len(spec.rules)} rules{extra} ({item.path})"


@knowledge_app.command("check")
def check(
    path: Annotated[
        Path | None, typer.Argument(help="A knowledge file or directory (default: built-in).")
    ] = None,
) -> None:
    """Validate knowledge files; exit 1 naming the file and field of the first error in each file."""
    target = path or BUILTIN_DIR
    files = sorted(target.glob("*.toml")) if target.is_dir() else [target]
    if not files:
        typer.echo(f"{target}: no .toml knowledge files", err=True)
        raise typer.Exit(1)
    failed = False
    for file in files:
        try:
            typer.echo(f"ok {_summary(load_file(file))}")
        except KnowledgeError as exc:
            failed = True
            typer.echo(f"error {exc}", err=True)
    if failed:
        raise typer.Exit(1)


@knowledge_app.command("list")
def list_(
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Site directory (default: TOXHOOKS_KNOWLEDGE_DIR).")
    ] = None,
) -> None:
    """Show every drug with its version and rule count, site overrides included."""
    try:
        kb = load_knowledge(_site_dir(directory))
    except KnowledgeError as exc:
        typer.echo(f"error {exc}", err=True)
        raise typer.Exit(1) from None
    for drug in sorted(kb.drugs):
        typer.echo(_summary(kb.drugs[drug]))
    typer.echo(f"knowledge version: {kb.version}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the CLI."""
    app.add_typer(knowledge_app, name="knowledge")
