"""Golden clinical scenarios: each folder holds a CDS Hooks request and a clinician-readable expectation.

`expected.toml` fields: `description`, `hook`, optional `absent_rules`, optional `monitoring` (true: the
monitoring card is pinned too, so when none is listed none may appear), and `[[cards]]` with `drug`,
`rule` (the card's source.topic code), `decision`, `indicator`, `summary`/`detail` fragments
(`detail_absent`: fragments the detail must not contain),
`labels`/`descriptions` fragments (of some suggestion label / action description: where protocol and
order text lives, the detail staying short), `rules` (further rule ids named on the card), `actions`
("<type> <ResourceType>[/<id>] [key=value] [xN]": some suggestion holds N such actions; [] means no
actions), `dose` ([mg, times a day] of an update) and `suggestions` (how many).
"""

from __future__ import annotations

import importlib
import json
import tomllib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
CASES = sorted(p.name for p in HERE.iterdir() if (p / "request.json").is_file())
# Frozen clock, deliberately not UTC: 16 March 2026 10:00 CET.
NOW = datetime(2026, 3, 16, 10, 0, tzinfo=timezone(timedelta(hours=1)))

PHRASES = {
    "contraindicated": "contraindicated",
    "discontinue": "discontinue permanently",
    "withhold": "withhold",
    "decide-per-protocol": "decide rechallenge or discontinuation per the protocol",
    "resume-reduced": "resume at",
    "resume-same": "resume at the same dose",
    "desensitize": "desensitization",
    "switch-agent": "switch agent",
    "dose-range": "check the dose",
    "flag-dlt": "possible dose-limiting toxicity",
    "supportive-care": "supportive care",
    "prophylaxis": "start prophylaxis",
    "monitor": "schedule monitoring",
    "continue": "continue and monitor",
    "check": "check before deciding",
    "data-missing": "rules not checked",
}


def _evaluate(request: dict[str, Any]) -> dict[str, Any]:
    offline = pytest.importorskip("service.offline")
    result: dict[str, Any] = offline.evaluate_offline(request, now=NOW)
    return result


def _validate(resource: dict[str, Any]) -> None:
    kind = resource["resourceType"]
    module = importlib.import_module(f"fhir.resources.R4B.{kind.lower()}")
    getattr(module, kind).model_validate(resource)


def _matches(action: dict[str, Any], want: str) -> bool:
    parts = want.split()
    verb, target = parts[0], parts[1]
    if action["type"] != verb:
        return False
    if verb == "delete":
        return bool(action.get("resourceId") == target)
    resource = action.get("resource") or {}
    if resource.get("resourceType") != target.split("/")[0]:
        return False
    for extra in parts[2:]:
        if "=" not in extra:
            continue
        key, value = extra.split("=", 1)
        if key == "status" and resource.get("status") != value:
            return False
        if key == "rxnorm":
            codes = [c.get("code") for c in resource.get("medicationCodeableConcept", {}).get("coding", [])]
            if value not in codes:
                return False
    return True


def _count(want: str) -> tuple[str, int]:
    parts = want.split()
    if parts[-1].startswith("x") and parts[-1][1:].isdigit():
        return " ".join(parts[:-1]), int(parts[-1][1:])
    return want, 1


def _check_card(card: dict[str, Any], want: dict[str, Any]) -> None:
    summary, detail = card["summary"], card.get("detail", "")
    assert len(summary) < 140
    assert card["source"]["topic"]["code"].startswith(want["drug"] + ".")
    assert card["indicator"] == want["indicator"], summary
    assert PHRASES[want["decision"]] in summary, summary
    for fragment in want.get("summary", ()):
        assert fragment in summary, (fragment, summary)
    for fragment in want.get("detail", ()):
        assert fragment in detail, (fragment, detail)
    for fragment in want.get("detail_absent", ()):
        assert fragment not in detail, (fragment, detail)
    for rule in want.get("rules", ()):
        assert f"`{rule}`" in detail, rule
    suggestions = card.get("suggestions", [])
    actions = [a for s in suggestions for a in s.get("actions", [])]
    labels = [s["label"] for s in suggestions]
    descriptions = [a["description"] for a in actions]
    for fragment in want.get("labels", ()):
        assert any(fragment in label for label in labels), (fragment, labels)
    for fragment in want.get("descriptions", ()):
        assert any(fragment in text for text in descriptions), (fragment, descriptions)
    for action in actions:
        if action.get("resource"):
            _validate(action["resource"])
    if "suggestions" in want:
        assert len(suggestions) == want["suggestions"], [s["label"] for s in suggestions]
    if suggestions:
        assert card["selectionBehavior"] in ("at-most-one", "any")
    if want.get("actions") == []:
        assert actions == [], actions
    for spec in want.get("actions", ()):
        pattern, needed = _count(spec)
        best = max((sum(_matches(a, pattern) for a in s.get("actions", [])) for s in suggestions), default=0)
        assert best >= needed, (spec, [a["description"] for a in actions])
    if "dose" in want:
        amount, per_day = want["dose"]
        updates = [a["resource"] for a in actions if a["type"] == "update"]
        doses = [
            (d["doseAndRate"][0]["doseQuantity"]["value"], d["timing"]["repeat"]["frequency"])
            for r in updates
            for d in r.get("dosageInstruction", [])
        ]
        assert (amount, per_day) in doses, doses


@pytest.mark.parametrize("case", CASES)
def test_scenario(case: str) -> None:
    folder = HERE / case
    request = json.loads((folder / "request.json").read_text(encoding="utf-8"))
    expected = tomllib.loads((folder / "expected.toml").read_text(encoding="utf-8"))
    assert expected["description"]
    assert request["hook"] == expected["hook"]
    response = _evaluate(request)
    cards = [
        c
        for c in response["cards"]
        if not c["source"].get("topic", {}).get("code", "").startswith("service.")
    ]
    # Monitoring cards (`<drug>.monitoring`) are pinned by the scenarios about monitoring: those that
    # list one, or say `monitoring = true` (then no listed monitoring card means none may appear).
    pinned = expected.get("monitoring", False) or any(
        w["rule"].endswith(".monitoring") for w in expected.get("cards", [])
    )
    if not pinned:
        cards = [c for c in cards if not c["source"]["topic"]["code"].endswith(".monitoring")]
    by_rule = {c["source"]["topic"]["code"]: c for c in cards}
    wanted = [w["rule"] for w in expected.get("cards", [])]
    assert sorted(by_rule) == sorted(wanted), [c["summary"] for c in cards]
    for want in expected.get("cards", []):
        _check_card(by_rule[want["rule"]], want)
    for rule in expected.get("absent_rules", ()):
        assert all(f"`{rule}`" not in c.get("detail", "") for c in cards), rule


def test_every_scenario_has_an_expectation() -> None:
    assert len(CASES) >= 30
    for case in CASES:
        assert (HERE / case / "expected.toml").is_file(), case
