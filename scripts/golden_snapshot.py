"""Write every sample hook request's response, normalised, to a folder: the before/after safety net.

Runs each request in tests/scenarios/*/request.json, tests/service/golden/*/request.json and
service/web/samples/*.json through the `toxhooks evaluate` logic at the scenarios' frozen clock and
writes `<folder>/<group>/<name>.json` with uuids replaced by their order of appearance. Compare two
snapshots with `diff -r BEFORE AFTER`.

Usage: python scripts/golden_snapshot.py OUT_DIR
"""

from __future__ import annotations

import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from service.error_handlers import operation_outcome
from service.errors import RequestError
from service.offline import evaluate_offline

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 3, 16, 10, 0, tzinfo=timezone(timedelta(hours=1)))
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def requests() -> list[tuple[str, Path]]:
    """(output name, request file) of every sample request, in a stable order."""
    found = [(f"scenarios/{p.parent.name}", p) for p in sorted(ROOT.glob("tests/scenarios/*/request.json"))]
    golden = sorted(ROOT.glob("tests/service/golden/*/request.json"))
    found += [(f"golden/{p.parent.name}", p) for p in golden]
    found += [
        (f"samples/{p.stem}", p)
        for p in sorted((ROOT / "service/web/samples").glob("*.json"))
        if p.name != "index.json"
    ]
    return found


def normalise(text: str) -> str:
    """Replace each distinct uuid by `uuid-N`, numbered by first appearance."""
    seen: dict[str, str] = {}

    def number(match: re.Match[str]) -> str:
        return seen.setdefault(match.group(0), f"uuid-{len(seen) + 1}")

    return _UUID.sub(number, text)


def answer(request: Any) -> Any:
    """The response JSON, or the OperationOutcome the CLI would print for a 4xx."""
    service_id = None
    if isinstance(request, dict) and "service" in request and "body" in request:
        service_id, request = request["service"], request["body"]  # tests/service/golden wrapping
    try:
        return evaluate_offline(request, now=NOW, service_id=service_id)
    except RequestError as exc:
        expression = list(getattr(exc, "missing", ())) or ([exc.field] if exc.field else None)
        return {"error": operation_outcome(exc.message, code=exc.issue_code, expression=expression)}


def main(out: Path) -> None:
    """Write the snapshot folder."""
    for name, path in requests():
        response = answer(orjson.loads(path.read_bytes()))
        text = orjson.dumps(response, option=orjson.OPT_INDENT_2).decode()
        target = out / f"{name}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(normalise(text) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
