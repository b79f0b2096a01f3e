"""Knowledge files: validation with file and field named, site overrides, identities, analytes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cards.errors import KnowledgeError
from cards.loader import BUILTIN_DIR, load_file, load_knowledge

ALECTINIB = (BUILTIN_DIR / "alectinib.toml").read_text(encoding="utf-8")


def test_builtin_knowledge_loads_with_versions() -> None:
    kb = load_knowledge()
    assert set(kb.drugs) == {"alectinib", "avutometinib-defactinib", "brigatinib", "lorlatinib", "pimasertib"}
    # The combined version names every drug with its file's version, in drug order.
    assert re.fullmatch(r"(?:[a-z-]+ \d+\.\d+\.\d+; ){4}[a-z-]+ \d+\.\d+\.\d+", kb.version), kb.version
    assert kb.version.split("; ")[0] == f"alectinib {kb.drugs['alectinib'].spec.version}"
    for item in kb.drugs.values():
        assert item.spec.history, item.drug
        for rule in item.spec.rules:
            assert rule.source in item.spec.references


def test_identities_include_co_medications_and_drop_unconfirmed_codes() -> None:
    identities = {i.drug: i for i in load_knowledge().drug_identities()}
    assert identities["alectinib"].rxnorm == ("1727455", "1727479", "1727485")
    assert identities["alectinib"].role == "therapy"
    assert identities["brigatinib"].role == "therapy"  # its own knowledge file wins over the co-medication
    assert "alk-inhibitor" in identities["brigatinib"].classes
    assert "PF-06463922" in identities["lorlatinib"].names
    assert identities["avutometinib-defactinib"].rxnorm == ()  # RxCUI mapping not confirmed
    assert "immune-checkpoint-inhibitor" in identities["pembrolizumab"].classes
    assert "folfiri-component" in identities["irinotecan"].classes


def test_analytes_read_by_rules() -> None:
    assert {"alt", "ast", "bilirubin", "ck", "creatinine"} <= load_knowledge().analytes()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('decision = "discontinue"', 'decision = "explode"', "rules.1.decision"),
        ('source = "alecensa-label"\nwhen', 'source = "nowhere"\nwhen', "unknown reference 'nowhere'"),
        (
            '{ lab = "bilirubin", of = "uln", gt = 3 }',
            '{ lab = "bilirubin", of = "uln", gtt = 3 }',
            "unknown key(s) gtt",
        ),
        ('version = "1.3.0"\nlab_max_age_days', "lab_max_age_days", "version: Field required"),
        ("levels = [{ dose = 600", "levels = [{ dose = 200", "strictly descending"),
    ],
)
def test_broken_file_names_file_and_field(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in ALECTINIB
    path = tmp_path / "alectinib.toml"
    path.write_text(ALECTINIB.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(KnowledgeError) as caught:
        load_file(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_invalid_toml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text("drug = \n", encoding="utf-8")
    with pytest.raises(KnowledgeError, match="not valid TOML"):
        load_file(path)


def test_site_directory_overrides_by_drug_id(tmp_path: Path) -> None:
    (tmp_path / "local-alectinib.toml").write_text(
        ALECTINIB.replace('version = "1.3.0"', 'version = "1.3.0-site"', 1)
    )
    kb = load_knowledge(tmp_path)
    assert kb.drugs["alectinib"].spec.version == "1.3.0-site"
    assert "alectinib 1.3.0-site" in kb.version
    assert kb.drugs["alectinib"].path.parent == tmp_path


def test_missing_site_directory_stops_loading(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="does not exist"):
        load_knowledge(tmp_path / "absent")


def test_a_qualifier_terminology_cannot_read_stops_loading(tmp_path: Path) -> None:
    text = ALECTINIB.replace('qualifier = "cholestasis"', 'qualifier = "cholestasys"', 1)
    assert text != ALECTINIB
    bad = tmp_path / "alectinib.toml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(KnowledgeError, match="cholestasys"):
        load_file(bad)
