"""The one hook entry point: injected dependencies, dedupe and record, and the timeline's safeguards."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from cards.loader import KnowledgeBase, load_knowledge
from service.catalog import load_catalog
from service.dedupe import MemoryShownCards
from service.hook import HookDependencies, answer_hook
from service.protocol import parse_call
from service.settings import Settings
from service.storage.issued import IssuedCard
from service.views.timeline import build_timeline

NOW = datetime(2026, 3, 16, 10, 0, tzinfo=timezone(timedelta(hours=1)))
SCENARIO = Path(__file__).parents[1] / "scenarios" / "alectinib-cpk-over-10x" / "request.json"


@pytest.fixture(scope="module")
def knowledge() -> KnowledgeBase:
    return load_knowledge(Settings().knowledge_dir)


def _request(hook: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(SCENARIO.read_text())
    return {**body, "hook": hook}


class _Sink:
    def __init__(self) -> None:
        self.cards: list[IssuedCard] = []

    def add(self, cards: Iterable[IssuedCard]) -> None:
        self.cards.extend(cards)


def _deps(knowledge: KnowledgeBase, **extra: Any) -> HookDependencies:
    counter = iter(range(1000))
    return HookDependencies(
        knowledge=knowledge,
        settings=Settings(),
        clock=lambda: NOW,
        id_factory=lambda: f"id-{next(counter)}",
        **extra,
    )


def _call(hook: str) -> Any:
    service = next(s for s in load_catalog().services if s.hook == hook)
    return parse_call(_request(hook), service)


async def test_answer_uses_the_injected_ids_and_records_every_card(knowledge: KnowledgeBase) -> None:
    sink = _Sink()
    answer = await answer_hook(_call("order-select"), _deps(knowledge, recorder=sink))
    uuids = [card["uuid"] for card in answer.response["cards"]]
    assert uuids and all(u.startswith("id-") for u in uuids)
    assert [c.card_uuid for c in sink.cards] == uuids
    assert all(c.issued_at == NOW and c.service_id == "toxhooks-order-select" for c in sink.cards)


async def test_order_sign_does_not_repeat_what_order_select_showed(knowledge: KnowledgeBase) -> None:
    shown = MemoryShownCards(ttl_s=60)
    selected = await answer_hook(_call("order-select"), _deps(knowledge, shown=shown))
    keyed = [c.card.summary for c in selected.rendered if c.dedupe_key]
    assert keyed, "the scenario's order-select cards carry dedupe keys"
    signed = await answer_hook(_call("order-sign"), _deps(knowledge, shown=shown))
    assert not set(keyed) & {c.card.summary for c in signed.rendered}
    alone = await answer_hook(_call("order-sign"), _deps(knowledge))
    assert set(keyed) <= {c.card.summary for c in alone.rendered}


def test_timeline_sets_another_patients_data_aside(knowledge: KnowledgeBase) -> None:
    body = _request("patient-view")
    resources = [e["resource"] for e in body["prefetch"]["labs"]["entry"]]
    patient = body["context"]["patientId"]
    stranger = {
        **resources[0],
        "id": "stranger-lab",
        "subject": {"reference": "Patient/someone-else"},
        "valueQuantity": {**resources[0]["valueQuantity"], "value": 99999},
    }
    view = build_timeline(
        [*resources, stranger],
        patient_id=patient,
        drug="alectinib",
        rule=None,
        now=NOW,
        knowledge=knowledge,
        ctcae_version="5.0",
        grade_texts=lambda term: None,
    )
    values = [p["value"] for series in view["labs"] for p in series["points"]]
    assert values and 99999 not in values
    assert any("stranger-lab" in problem and "someone-else" in problem for problem in view["notRead"])
