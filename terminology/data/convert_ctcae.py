"""Convert the shared NCI CTCAE CSV files into toxhooks' compact package data (build time only).

Run from the project root: `python terminology/data/convert_ctcae.py /path/to/shared/data/ctcae`.
It writes ctcae_v5.0.json.gz, ctcae_v6.0.json.gz, ctcae_v5_to_v6.json.gz and PROVENANCE.txt
beside this script. The product reads only the written files, never the shared directory.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import sys
from pathlib import Path

__all__ = ["main"]

HERE = Path(__file__).resolve().parent
INPUTS = {
    "5.0": ("CTCAE_v5.0_2017-11-27.csv", "MedDRA Code", "MedDRA SOC", "CTCAE Term"),
    "6.0": (
        "CTCAE_v6.0_clean_copy.csv",
        "CTCAE v6.0 MedDRA 28.0 LLT Code",
        "CTCAE v6.0 MedDRA 28.0 SOC",
        "CTCAE v6.0 MedDRA 28.0 Term",
    ),
}
MAPPING = "CTCAE_v5_to_v6_mapping.csv"


def _clean(text: str | None) -> str:
    """Trim and turn the sheets' '-' placeholder (no such grade) into an empty string."""
    value = (text or "").strip()
    return "" if value in {"-", "- "} else value


def _write(name: str, payload: object) -> None:
    """Write gzip JSON deterministically (mtime 0) so rebuilding gives identical bytes."""
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    with (HERE / name).open("wb") as out, gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(raw)


def main(src: Path) -> None:
    """Convert every input file and record its checksum in PROVENANCE.txt."""
    lines = ["CTCAE package data, converted by terminology/data/convert_ctcae.py", ""]
    for version, (name, code_col, soc_col, term_col) in INPUTS.items():
        path = src / name
        rows = []
        with path.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                rows.append(
                    {
                        "meddra_code": row[code_col].strip(),
                        "soc": row[soc_col].strip(),
                        "term": row[term_col].strip(),
                        "grades": [_clean(row[f"Grade {g}"]) for g in range(1, 6)],
                        "definition": _clean(row.get("Definition")),
                        "note": _clean(row.get("Navigational Note")),
                    }
                )
        _write(f"ctcae_v{version}.json.gz", {"version": version, "terms": rows})
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"ctcae_v{version}.json.gz <- {name} sha256 {digest} ({len(rows)} terms)")
    pairs: dict[str, set[str]] = {}
    path = src / MAPPING
    with path.open(newline="", encoding="utf-8") as fh:
        table = csv.reader(fh)
        next(table)
        for cells in table:
            if len(cells) < 9:
                continue
            v5_term, v6_term = cells[2].strip(), cells[8].strip()
            if v5_term and v6_term and v6_term.upper() != "N/A":
                pairs.setdefault(v5_term, set()).add(v6_term)
    _write("ctcae_v5_to_v6.json.gz", {k: sorted(v) for k, v in sorted(pairs.items())})
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    lines.append(f"ctcae_v5_to_v6.json.gz <- {MAPPING} sha256 {digest} ({len(pairs)} v5 terms)")
    lines += [
        "",
        "Source files: shared/data/ctcae (see its PROVENANCE.txt): NCI CTCAE v5.0 (2017-11-27, MedDRA 20.1)",
        "and CTCAE v6.0 clean copy + NCI v5.0 -> v6.0 mapping sheet (MedDRA 28.0), converted from the NCI",
        "workbooks. Method: csv.DictReader, columns MedDRA LLT code, SOC, term, Grade 1-5, Definition,",
        "Navigational Note; '-' (no such grade) stored as ''. The mapping keeps every distinct",
        "(v5 term -> v6 term) pair of NCI's row-by-row sheet. MedDRA licensing applies to redistribution.",
    ]
    (HERE / "PROVENANCE.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
