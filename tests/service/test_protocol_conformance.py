"""Cards leave the service within the spec's card rules, whatever the rule engine built."""

from __future__ import annotations

from typing import Any

import pytest

from cards.model import Action, Card, EvaluationResult, Link, RenderedCard, Source, Suggestion
from tests.service.conftest import MakeClient
from tests.service.examples import hook_request
from tests.service.spec import assert_valid_response

PV = "/cds-services/toxhooks-patient-view"


def _engine_returning(card: Card) -> Any:
    def evaluate(request: Any, knowledge: Any) -> EvaluationResult:
        rendered = RenderedCard(card=card, drug="alectinib", decision="withhold", rule_ids=("r.1",))
        return EvaluationResult(cards=(rendered,))

    return evaluate


async def test_sloppy_card_is_made_conformant(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    card = Card(
        summary="Withhold",
        detail="",
        indicator="warning",
        source=Source(label="toxhooks", url=""),
        suggestions=(
            Suggestion(
                label="Hold", actions=(Action(type="delete", description="Remove", resourceId="X/1"),)
            ),
            Suggestion(label="Nothing to do", actions=()),
        ),
        overrideReasons=(),
        links=(
            Link(label="Info", url="https://example.org", type="absolute", appContext='{"a": 1}'),
            Link(label="App", url="https://example.org/launch", type="smart", appContext='{"a": 1}'),
        ),
    )
    monkeypatch.setattr("service.hook.evaluate", _engine_returning(card))
    client = await make_client()
    response = await client.post(PV, json=hook_request("patient-view"))
    assert response.status_code == 200
    body = response.json()
    assert_valid_response(body)
    sent = body["cards"][0]
    assert "detail" not in sent and "overrideReasons" not in sent and "url" not in sent["source"]
    assert sent["selectionBehavior"] == "at-most-one"
    assert "actions" not in sent["suggestions"][1]
    assert "appContext" not in sent["links"][0] and sent["links"][1]["appContext"] == '{"a": 1}'


def test_selection_behavior_is_kept_or_dropped_with_the_suggestions() -> None:
    base: dict[str, Any] = {"summary": "s", "indicator": "info", "source": Source(label="x")}

    def dumped(**fields: Any) -> dict[str, Any]:
        return Card(**base, **fields).model_dump(exclude_none=True, mode="json")

    kept = dumped(suggestions=(Suggestion(label="a", uuid="u"),), selectionBehavior="any")
    assert kept["selectionBehavior"] == "any"
    dropped = dumped(suggestions=(), selectionBehavior="any")
    assert "suggestions" not in dropped and "selectionBehavior" not in dropped
    assert dumped() == {"summary": "s", "indicator": "info", "source": {"label": "x"}}


async def test_a_suggestion_with_an_invalid_r4b_resource_is_removed_not_sent(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    good = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "subject": {"reference": "Patient/p-1001"},
        "code": {"text": "CPK"},
    }
    bad = {k: v for k, v in good.items() if k != "subject"} | {"note": [{"text": "secret-value-42"}]}
    card = Card(
        summary="Monitor",
        indicator="warning",
        source=Source(label="toxhooks"),
        suggestions=(
            Suggestion(label="Bad", actions=(Action(type="create", description="c", resource=bad),)),
            Suggestion(label="Good", actions=(Action(type="create", description="c", resource=good),)),
        ),
    )
    monkeypatch.setattr("service.hook.evaluate", _engine_returning(card))
    client = await make_client()
    response = await client.post(PV, json=hook_request("patient-view"))
    assert response.status_code == 200
    sent = response.json()["cards"][0]
    assert [s["label"] for s in sent["suggestions"]] == ["Good"]
    assert "not valid FHIR R4B (subject)" in caplog.text and "secret-value-42" not in caplog.text
