"""Hypothesis-generated CDS Hooks calls with random FHIR content and a misbehaving FHIR server: no 5xx."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.app import create_app
from service.settings import Settings

HOOK_EXAMPLES = 400
FEEDBACK_EXAMPLES = 150
BASE = "http://testserver"

LOINC, RXNORM, SNOMED, ICD10 = (
    "http://loinc.org",
    "http://www.nlm.nih.gov/research/umls/rxnorm",
    "http://snomed.info/sct",
    "http://hl7.org/fhir/sid/icd-10-cm",
)
# Lab codes the service prefetches (CK, ALT, AST, bilirubin, creatinine, platelets, neutrophils...).
LAB_CODES = ["2157-6", "1742-6", "1920-8", "1975-2", "2160-0", "777-3", "751-8", "718-7", "6690-2", "2823-3"]
DRUG_NAMES = [
    "alectinib",
    "pimasertib",
    "avutometinib",
    "defactinib",
    "brigatinib",
    "doxycycline",
    "Alecensa",
]
UNITS = [
    "U/L",
    "IU/L",
    "mg/dL",
    "umol/L",
    "µmol/L",
    "10*3/uL",
    "10*9/L",
    "g/dL",
    "%",
    "",
    "mmol/L",
    "furlongs",
]

json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
numbers = (
    st.integers(-(10**12), 10**12) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=6)
)
dates = (
    st.datetimes().map(lambda d: d.isoformat())
    | st.dates().map(str)
    | st.sampled_from(
        ["2026-11-20", "2026-11-20T08:00:00Z", "2026-11", "2026", "yesterday", "", "2026-02-30"]
    )
)
reference = st.sampled_from(["Patient/p1", "Patient/other", "", "urn:uuid:x"]).map(lambda r: {"reference": r})
coding = st.fixed_dictionaries(
    {
        "system": st.sampled_from([LOINC, RXNORM, SNOMED, ICD10]) | st.text(max_size=10),
        "code": st.sampled_from([*LAB_CODES, "1727455", "10041", "73442001"]) | st.text(max_size=8),
    },
    optional={"display": st.text(max_size=12)},
)
codeable = st.fixed_dictionaries(
    {"coding": st.lists(coding, max_size=3)},
    optional={"text": st.sampled_from(DRUG_NAMES) | st.text(max_size=12)},
)
quantity = st.fixed_dictionaries(
    {"value": numbers},
    optional={
        "unit": st.sampled_from(UNITS),
        "code": st.sampled_from(UNITS),
        "system": st.just("http://unitsofmeasure.org"),
    },
)
extra = st.dictionaries(
    st.sampled_from(["extension", "meta", "note", "x-unknown", "_status"]), json_value, max_size=2
)


def resource(
    kind: str, required: dict[str, Any], optional: dict[str, Any]
) -> st.SearchStrategy[dict[str, Any]]:
    """A FHIR resource of `kind`: typical fields, random values, and unknown extras (which FHIR tolerates)."""
    base = st.fixed_dictionaries(
        {"resourceType": st.just(kind), **required},
        optional={"id": st.text(max_size=8), "subject": reference, **optional},
    )
    return st.tuples(base, extra).map(lambda parts: {**parts[1], **parts[0]})


observation = resource(
    "Observation",
    {
        "status": st.sampled_from(["final", "amended", "preliminary", "cancelled", "entered-in-error", "?"]),
        "code": codeable,
    },
    {
        "valueQuantity": quantity,
        "valueString": st.text(max_size=8),
        "effectiveDateTime": dates,
        "issued": dates,
        "referenceRange": st.lists(
            st.fixed_dictionaries({}, optional={"low": quantity, "high": quantity}), max_size=2
        ),
        "category": st.lists(codeable, max_size=2),
        "interpretation": st.lists(codeable, max_size=2),
    },
)
medication_request = resource(
    "MedicationRequest",
    {
        "status": st.sampled_from(["draft", "active", "stopped", "completed", "?"]),
        "medicationCodeableConcept": codeable,
    },
    {
        "intent": st.sampled_from(["order", "proposal", "plan"]),
        "authoredOn": dates,
        "dosageInstruction": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "text": st.text(max_size=12),
                    "doseAndRate": st.lists(st.fixed_dictionaries({"doseQuantity": quantity}), max_size=2),
                    "timing": json_value,
                },
            ),
            max_size=2,
        ),
    },
)
condition = resource(
    "Condition",
    {"code": codeable},
    {"onsetDateTime": dates, "recordedDate": dates, "clinicalStatus": codeable},
)
adverse_event = resource(
    "AdverseEvent",
    {"event": codeable},
    {"date": dates, "seriousness": codeable, "suspectEntity": st.lists(json_value, max_size=2)},
)
patient = resource(
    "Patient", {}, {"birthDate": dates, "gender": st.sampled_from(["female", "male", "other", 7])}
)
any_resource = observation | medication_request | condition | adverse_event | patient | json_value


def bundle(entries: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A searchset Bundle most of the time, sometimes something else where a Bundle belongs."""
    proper = st.fixed_dictionaries(
        {"resourceType": st.just("Bundle"), "type": st.sampled_from(["searchset", "collection"])},
        optional={"entry": st.lists(st.fixed_dictionaries({"resource": entries}), max_size=5)},
    )
    return st.one_of(proper, proper, proper, proper, st.none(), json_value)


draft_order = st.tuples(
    medication_request, st.sampled_from(["m1", "m2"]), st.sampled_from(["draft"] * 4 + ["active"])
).map(lambda parts: {**parts[0], "id": parts[1], "status": parts[2]})
PREFETCH = {
    "patient": st.one_of(patient, patient, patient, st.none(), json_value),
    "labs": bundle(st.one_of(observation, observation, observation, any_resource)),
    "gradedEvents": bundle(st.one_of(observation, any_resource)),
    "medications": bundle(medication_request),
    "conditions": bundle(condition),
    "adverseEvents": bundle(adverse_event),
}
MOSTLY = st.sampled_from([True] * 9 + [False])
SERVICES = ["toxhooks-order-select", "toxhooks-order-sign", "toxhooks-patient-view"]


@st.composite
def hook_call(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """(service id, request): mostly well-formed calls with random FHIR content, some broken in one place."""
    service = draw(st.sampled_from(SERVICES))
    hook = service.removeprefix("toxhooks-")
    context: dict[str, Any] = {"userId": "Practitioner/1", "patientId": "p1"}
    if hook != "patient-view":
        context["draftOrders"] = draw(bundle(draft_order))
        context["selections"] = draw(
            st.lists(st.sampled_from(["MedicationRequest/m1", "MedicationRequest/m2"]), max_size=2)
        )
    prefetch = {key: draw(value) for key, value in PREFETCH.items() if draw(MOSTLY)}
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": str(draw(st.uuids())),
        "context": context,
        "prefetch": prefetch,
    }
    if len(prefetch) < len(PREFETCH) or draw(st.booleans()):
        # The service fetches what prefetch lacks, from a FHIR server that misbehaves.
        body["fhirServer"] = "https://fhir.ehr.example.org/R4"
        body["fhirAuthorization"] = {
            "access_token": "opaque",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "toxhooks",
        }
    body.update(draw(st.dictionaries(st.sampled_from(["x-extension", "extension"]), json_value, max_size=1)))
    # sampled_from is close to uniform; integers() would favour 0 and break most calls.
    breakage = draw(st.sampled_from(["none"] * 7 + ["context", "hook", "field"]))
    if breakage == "context":
        body["context"] = draw(json_value)
    elif breakage == "hook":
        body["hook"] = draw(
            st.sampled_from(["order-select", "order-sign", "patient-view"]) | st.text(max_size=8)
        )
    elif breakage == "field":
        body["context"][draw(st.sampled_from(sorted(context)))] = draw(json_value)
    return service, body


def misbehaving_fhir_server(request: httpx.Request) -> httpx.Response:
    """The EHR's FHIR server at its worst: errors, garbage, wrong shapes, slow-failing calls."""
    choice = random.Random(str(request.url)).randrange(6)
    if choice == 0:
        raise httpx.ConnectError("refused", request=request)
    if choice == 1:
        return httpx.Response(500, text="oops")
    if choice == 2:
        return httpx.Response(200, content=b"{not json")
    if choice == 3:
        return httpx.Response(200, json={"resourceType": "OperationOutcome"})
    if choice == 4:
        return httpx.Response(
            200, json={"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": 7}]}
        )
    return httpx.Response(401)


@dataclass
class Harness:
    """The app running in one event loop kept across hypothesis examples."""

    runner: asyncio.Runner
    client: httpx.AsyncClient

    def post(self, path: str, body: bytes) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        return self.runner.run(self.client.post(path, content=body, headers=headers))


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    with asyncio.Runner() as runner:
        stack = AsyncExitStack()

        async def start() -> httpx.AsyncClient:
            fhir = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.MockTransport(misbehaving_fhir_server))
            )
            settings_ = Settings(
                dev=True,
                database_url=f"sqlite+aiosqlite:///{tmp_path / 'fuzz.db'}",
                log_level="ERROR",
                fhir_time_budget_s=0.5,
            )
            app = create_app(settings_, http_client=fhir)
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)  # raises any unhandled exception into the test
            return await stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url=BASE))

        client = runner.run(start())
        try:
            yield Harness(runner, client)
        finally:
            runner.run(stack.aclose())


def encode(body: Any) -> bytes:
    """Standard-library JSON: it writes integers beyond 64 bits and Infinity; the service must cope."""
    return json.dumps(body).encode()


@pytest.mark.slow
@settings(max_examples=HOOK_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(call=hook_call())
def test_random_hook_calls_never_fail_the_service(harness: Harness, call: tuple[str, dict[str, Any]]) -> None:
    service, body = call
    response = harness.post(f"/cds-services/{service}", encode(body))
    assert response.status_code < 500, response.text
    if response.status_code == 200:
        assert isinstance(response.json()["cards"], list)
    else:
        assert response.json()["resourceType"] == "OperationOutcome"


feedback_entry = st.fixed_dictionaries(
    {
        "card": st.uuids().map(str) | st.text(max_size=8),
        "outcome": st.sampled_from(["accepted", "overridden", "ignored"]),
    },
    optional={
        "outcomeTimestamp": dates,
        "acceptedSuggestions": st.lists(
            st.fixed_dictionaries({"id": st.uuids().map(str) | json_value}), max_size=2
        ),
        "overrideReason": st.fixed_dictionaries(
            {}, optional={"reason": coding, "userComment": st.text(max_size=20)}
        ),
        "x-unknown": json_value,
    },
)


@pytest.mark.slow
@settings(
    max_examples=FEEDBACK_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
)
@given(
    service=st.sampled_from(SERVICES),
    body=st.fixed_dictionaries({"feedback": st.lists(feedback_entry, max_size=4) | json_value}) | json_value,
)
def test_random_feedback_never_fails_the_service(harness: Harness, service: str, body: Any) -> None:
    response = harness.post(f"/cds-services/{service}/feedback", encode(body))
    assert response.status_code < 500, response.text


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_arbitrary_bytes_are_refused_cleanly(harness: Harness, raw: bytes) -> None:
    response = harness.post(f"/cds-services/{SERVICES[0]}", raw)
    assert response.status_code < 500, response.text


def test_the_generators_reach_the_engine(harness: Harness) -> None:
    """Guard against a fuzzer that only ever produces 400s: a well-formed call is answered with cards."""
    prefetch: dict[str, Any] = {
        k: {"resourceType": "Bundle", "type": "searchset"}
        for k in ("labs", "gradedEvents", "medications", "conditions", "adverseEvents")
    }
    prefetch["patient"] = {"resourceType": "Patient", "id": "p1"}
    body = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/1", "patientId": "p1"},
        "prefetch": prefetch,
    }
    response = harness.post("/cds-services/toxhooks-patient-view", encode(body))
    assert response.status_code == 200 and response.json()["cards"] == []
