"""`toxhooks knowledge check` and `toxhooks knowledge list`."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from cards.loader import BUILTIN_DIR
from service.cli import knowledge


def app() -> typer.Typer:
    root = typer.Typer()
    knowledge.register(root)

    @root.callback()
    def _root() -> None:
        """Test root."""

    return root


def test_check_builtin_files() -> None:
    result = CliRunner().invoke(app(), ["knowledge", "check"])
    assert result.exit_code == 0, result.output
    assert "ok alectinib 1.3.0: 30 rules" in result.output


def test_check_broken_file_names_it(tmp_path: Path) -> None:
    broken = tmp_path / "pimasertib.toml"
    text = (BUILTIN_DIR / "pimasertib.toml").read_text(encoding="utf-8")
    broken.write_text(text.replace('decision = "flag-dlt"', 'decision = "flag"'), encoding="utf-8")
    result = CliRunner().invoke(app(), ["knowledge", "check", str(broken)])
    assert result.exit_code == 1
    assert str(broken) in result.output and "decision" in result.output


def test_list_with_site_directory(tmp_path: Path) -> None:
    text = (BUILTIN_DIR / "pimasertib.toml").read_text(encoding="utf-8")
    (tmp_path / "p.toml").write_text(
        text.replace('version = "1.3.0"', 'version = "2.0.0"', 1), encoding="utf-8"
    )
    result = CliRunner().invoke(app(), ["knowledge", "list", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "pimasertib 2.0.0: 10 rules" in result.output
    assert "alectinib 1.3.0" in result.output


def test_list_shows_the_five_builtin_drugs() -> None:
    result = CliRunner().invoke(app(), ["knowledge", "list"])
    assert result.exit_code == 0, result.output
    for drug in ("alectinib", "avutometinib-defactinib", "brigatinib", "lorlatinib", "pimasertib"):
        assert f"\n{drug} " in "\n" + result.output, drug
    version = next(line for line in result.output.splitlines() if line.startswith("knowledge version:"))
    assert version.count(";") == 4
