"""The reference request set: deterministic CDS Hooks requests with realistic FHIR R4 prefetch."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

__all__ = [
    "DEFAULT_ANCHOR",
    "DEFAULT_SEED",
    "LAB_ANALYTES",
    "ReferenceRequest",
    "order_select_request",
    "order_sign_request",
    "patient_view_request",
    "reference_set",
    "with_si_creatinine",
]

DEFAULT_SEED = 20260501
# Last day of the lab history; `run` passes today's date so "recent" logic in the service applies.
DEFAULT_ANCHOR = date(2026, 5, 1)
PATIENT_ID = "bench-patient-1"
HISTORY_WEEKS = 40

_LOINC = "http://loinc.org"
_UCUM = "http://unitsofmeasure.org"
_RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
_SNOMED = "http://snomed.info/sct"
_ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
_MDRAE = "http://terminology.hl7.org/CodeSystem/MDRAE"
_CTCAE_GRADE_EXT = "http://hl7.org/fhir/us/ctcae/StructureDefinition/ctcae-grade"
_CTCAE_GRADE_CS = "http://hl7.org/fhir/us/ctcae/CodeSystem/ctcae-grade-code-system"
_OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
_CREATININE_UMOL_PER_MG_DL = 88.42  # 1 mg/dL creatinine = 88.42 umol/L (molar mass 113.12 g/mol)


@dataclass(frozen=True, slots=True)
class _Analyte:
    """One lab analyte: LOINC code, UCUM unit, upper limit of normal and a typical value."""

    key: str
    loinc: str
    display: str
    text: str
    unit: str
    uln: float
    typical: float
    decimals: int


LAB_ANALYTES: tuple[_Analyte, ...] = (
    _Analyte(
        "ck",
        "2157-6",
        "Creatine kinase [Enzymatic activity/volume] in Serum or Plasma",
        "CK",
        "U/L",
        190.0,
        110.0,
        0,
    ),
    _Analyte(
        "alt",
        "1742-6",
        "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "ALT",
        "U/L",
        40.0,
        24.0,
        0,
    ),
    _Analyte(
        "ast",
        "1920-8",
        "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "AST",
        "U/L",
        40.0,
        26.0,
        0,
    ),
    _Analyte(
        "bilirubin",
        "1975-2",
        "Bilirubin.total [Mass/volume] in Serum or Plasma",
        "Total bilirubin",
        "mg/dL",
        1.2,
        0.6,
        1,
    ),
    _Analyte(
        "creatinine",
        "2160-0",
        "Creatinine [Mass/volume] in Serum or Plasma",
        "Creatinine",
        "mg/dL",
        1.1,
        0.85,
        2,
    ),
)

# (SNOMED code, ICD-10-CM code, display): a plausible problem list for an ALK+ NSCLC patient.
_CONDITIONS: tuple[tuple[str, str, str], ...] = (
    ("254637007", "C34.90", "Non-small cell lung cancer"),
    ("94225005", "C79.31", "Secondary malignant neoplasm of brain"),
    ("38341003", "I10", "Hypertensive disorder"),
    ("44054006", "E11.9", "Type 2 diabetes mellitus"),
    ("40930008", "E03.9", "Hypothyroidism"),
    ("55822004", "E78.5", "Hyperlipidemia"),
    ("35489007", "F32.9", "Depressive disorder"),
    ("235595009", "K21.9", "Gastroesophageal reflux disease"),
    ("68566005", "N39.0", "Urinary tract infectious disease"),
    ("267036007", "R06.00", "Dyspnea"),
)

# (MedDRA LLT/PT code, CTCAE term, grade): clinician-recorded events, graded in the ctcae-grade extension.
_ADVERSE_EVENTS: tuple[tuple[str, str, int], ...] = (
    ("10037847", "Rash maculo-papular", 1),
    ("10008614", "Constipation", 1),
    ("10016256", "Fatigue", 2),
    ("10028411", "Myalgia", 1),
    ("10015150", "Edema limbs", 1),
)

# (id, name, RxNorm or None, dose mg, per day): the therapies of the patient-view request.
_THERAPIES: tuple[tuple[str, str, str | None, float, int], ...] = (
    ("alectinib", "alectinib 600 mg", "1727455", 600.0, 2),
    ("pimasertib", "pimasertib 60 mg", None, 60.0, 2),
    ("avutometinib", "avutometinib 3.2 mg", None, 3.2, 1),
    ("defactinib", "defactinib 200 mg", None, 200.0, 2),
)


@dataclass(frozen=True, slots=True)
class ReferenceRequest:
    """A named request of the reference set and the hook it is sent to."""

    name: str
    hook: str
    body: dict[str, Any]


def _uuid(rng: random.Random) -> str:
    """A UUID drawn from the seeded generator (uuid4 would break determinism)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _instant(day: date, hour: int = 8) -> str:
    """FHIR instant for a morning blood draw."""
    return datetime.combine(day, time(hour, 0), tzinfo=UTC).isoformat().replace("+00:00", "Z")


def _quantity(value: float, unit: str) -> dict[str, Any]:
    """A UCUM valueQuantity."""
    return {"value": value, "unit": unit, "system": _UCUM, "code": unit}


def _lab_value(rng: random.Random, analyte: _Analyte, week: float) -> float:
    """A noisy value with a CK/transaminase excursion at weeks 12-16 and a CK rise in the last two weeks.

    Both are typical on an ALK inhibitor; the recent CK rise (about 5.5-8 x ULN, CTCAE grade 3) makes
    the service decide and build cards, so the benchmark measures that path too.
    """
    value = analyte.typical * rng.uniform(0.75, 1.3)
    if 12.0 <= week <= 16.0 and analyte.key in {"ck", "alt", "ast"}:
        value *= rng.uniform(2.0, 6.0)
    elif week >= HISTORY_WEEKS - 2 and analyte.key == "ck":
        value = analyte.uln * rng.uniform(5.5, 8.0)
    return round(value, analyte.decimals) if analyte.decimals else float(round(value))


def _observation(rng: random.Random, index: int, analyte: _Analyte, day: date, week: float) -> dict[str, Any]:
    """One final lab Observation with a lab-supplied reference range."""
    value = _lab_value(rng, analyte, week)
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"lab-{index:05d}",
        "status": "final",
        "category": [{"coding": [{"system": _OBS_CATEGORY, "code": "laboratory", "display": "Laboratory"}]}],
        "code": {
            "coding": [{"system": _LOINC, "code": analyte.loinc, "display": analyte.display}],
            "text": analyte.text,
        },
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "effectiveDateTime": _instant(day),
        "issued": _instant(day, 11),
        "valueQuantity": _quantity(value, analyte.unit),
        "referenceRange": [{"high": _quantity(analyte.uln, analyte.unit)}],
    }
    if value > analyte.uln:
        obs["interpretation"] = [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                        "code": "H",
                        "display": "High",
                    }
                ]
            }
        ]
    return obs


def _observations(rng: random.Random, count: int, anchor: date) -> list[dict[str, Any]]:
    """`count` Observations spread evenly over the five analytes and HISTORY_WEEKS weeks up to `anchor`."""
    per_analyte = max(1, count // len(LAB_ANALYTES))
    span_days = HISTORY_WEEKS * 7
    start = anchor - timedelta(days=span_days)
    result: list[dict[str, Any]] = []
    for step in range(per_analyte):
        offset = span_days * step / max(1, per_analyte - 1)
        day = start + timedelta(days=int(offset))
        for analyte in LAB_ANALYTES:
            result.append(_observation(rng, len(result), analyte, day, offset / 7))
    return result[:count]


def _conditions(anchor: date) -> list[dict[str, Any]]:
    """The problem list, with onsets before the therapy start."""
    result = []
    for i, (snomed, icd10, display) in enumerate(_CONDITIONS):
        result.append(
            {
                "resourceType": "Condition",
                "id": f"cond-{i:02d}",
                "clinicalStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                            "code": "active",
                        }
                    ]
                },
                "verificationStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                            "code": "confirmed",
                        }
                    ]
                },
                "category": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                "code": "problem-list-item",
                            }
                        ]
                    }
                ],
                "code": {
                    "coding": [
                        {"system": _SNOMED, "code": snomed, "display": display},
                        {"system": _ICD10, "code": icd10},
                    ],
                    "text": display,
                },
                "subject": {"reference": f"Patient/{PATIENT_ID}"},
                "onsetDateTime": _instant(anchor - timedelta(days=HISTORY_WEEKS * 7 + 30 * (i + 1))),
            }
        )
    return result


def _adverse_events(anchor: date) -> list[dict[str, Any]]:
    """Clinician-graded events with the CTCAE grade extension and alectinib as suspect."""
    result = []
    for i, (meddra, term, grade) in enumerate(_ADVERSE_EVENTS):
        result.append(
            {
                "resourceType": "AdverseEvent",
                "id": f"ae-{i:02d}",
                "extension": [
                    {
                        "url": _CTCAE_GRADE_EXT,
                        "valueCodeableConcept": {
                            "coding": [
                                {"system": _CTCAE_GRADE_CS, "code": str(grade), "display": f"Grade {grade}"}
                            ]
                        },
                    }
                ],
                "actuality": "actual",
                "event": {"coding": [{"system": _MDRAE, "code": meddra, "display": term}], "text": term},
                "subject": {"reference": f"Patient/{PATIENT_ID}"},
                "date": _instant(anchor - timedelta(days=20 * (i + 1))),
                "severity": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/adverse-event-severity",
                            "code": "mild" if grade == 1 else "moderate",
                        }
                    ]
                },
                "suspectEntity": [
                    {"instance": {"reference": "MedicationRequest/active-alectinib", "display": "alectinib"}}
                ],
            }
        )
    return result


def _medication_request(
    rid: str, name: str, rxnorm: str | None, dose_mg: float, per_day: int, status: str, start: date
) -> dict[str, Any]:
    """A MedicationRequest with a structured oral dose (doseQuantity in mg, timing frequency/day)."""
    concept: dict[str, Any] = {"text": name}
    if rxnorm:
        concept["coding"] = [{"system": _RXNORM, "code": rxnorm, "display": name.split()[0]}]
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": concept,
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "authoredOn": _instant(start, 9),
        "requester": {"reference": "Practitioner/bench-oncologist"},
        "dosageInstruction": [
            {
                "text": f"{name} {'twice' if per_day == 2 else 'once'} daily with food",
                "timing": {
                    "repeat": {
                        "frequency": per_day,
                        "period": 1,
                        "periodUnit": "d",
                        "boundsPeriod": {"start": start.isoformat()},
                    },
                    "code": {"text": "BID" if per_day == 2 else "QD"},
                },
                "route": {"coding": [{"system": _SNOMED, "code": "26643006", "display": "Oral route"}]},
                "doseAndRate": [{"doseQuantity": _quantity(dose_mg, "mg")}],
            }
        ],
    }


def _bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A searchset Bundle, as a FHIR server returns for a prefetch query."""
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {
                "fullUrl": f"urn:bench:{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }


def _patient() -> dict[str, Any]:
    """The patient resource."""
    return {
        "resourceType": "Patient",
        "id": PATIENT_ID,
        "name": [{"family": "Benchmark", "given": ["Alex"]}],
        "gender": "female",
        "birthDate": "1968-03-14",
    }


def _prefetch(
    rng: random.Random, observations: int, anchor: date, medications: list[dict[str, Any]]
) -> dict[str, Any]:
    """Prefetch: patient, labs, conditions, adverse events and medication requests on record."""
    return {
        "patient": _patient(),
        "labs": _bundle(_observations(rng, observations, anchor)),
        "conditions": _bundle(_conditions(anchor)),
        "adverseEvents": _bundle(_adverse_events(anchor)),
        "medications": _bundle(medications),
    }


def order_sign_request(
    observations: int = 200, *, seed: int = DEFAULT_SEED, anchor: date = DEFAULT_ANCHOR
) -> dict[str, Any]:
    """order-sign with one draft alectinib 600 mg BID order and `observations` lab Observations."""
    rng = random.Random(seed + observations)
    draft = _medication_request("draft-alectinib", "alectinib 600 mg", "1727455", 600.0, 2, "draft", anchor)
    return {
        "hook": "order-sign",
        "hookInstance": _uuid(rng),
        "context": {
            "userId": "Practitioner/bench-oncologist",
            "patientId": PATIENT_ID,
            "encounterId": "bench-encounter-1",
            "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": draft}]},
        },
        "prefetch": _prefetch(rng, observations, anchor, []),
    }


def order_select_request(
    observations: int = 200, *, seed: int = DEFAULT_SEED, anchor: date = DEFAULT_ANCHOR
) -> dict[str, Any]:
    """order-select of the same draft: the order-sign request with `selections` and the hook renamed."""
    body = order_sign_request(observations, seed=seed, anchor=anchor)
    body["hook"] = "order-select"
    body["hookInstance"] = _uuid(random.Random(seed + observations + 1))
    context = body["context"]
    context["selections"] = ["MedicationRequest/draft-alectinib"]
    return body


def patient_view_request(*, seed: int = DEFAULT_SEED, anchor: date = DEFAULT_ANCHOR) -> dict[str, Any]:
    """patient-view for a patient on three active therapies (avutometinib + defactinib is one regimen)."""
    rng = random.Random(seed - 1)
    start = anchor - timedelta(days=HISTORY_WEEKS * 7)
    medications = [
        _medication_request(f"active-{tid}", name, rxnorm, dose, per_day, "active", start)
        for tid, name, rxnorm, dose, per_day in _THERAPIES
    ]
    return {
        "hook": "patient-view",
        "hookInstance": _uuid(rng),
        "context": {"userId": "Practitioner/bench-oncologist", "patientId": PATIENT_ID},
        "prefetch": _prefetch(rng, 200, anchor, medications),
    }


def reference_set(*, seed: int = DEFAULT_SEED, anchor: date = DEFAULT_ANCHOR) -> tuple[ReferenceRequest, ...]:
    """The three reference requests, in report order."""
    return (
        ReferenceRequest("order-sign-200", "order-sign", order_sign_request(200, seed=seed, anchor=anchor)),
        ReferenceRequest("order-sign-2000", "order-sign", order_sign_request(2000, seed=seed, anchor=anchor)),
        ReferenceRequest("patient-view-3", "patient-view", patient_view_request(seed=seed, anchor=anchor)),
    )


def with_si_creatinine(body: dict[str, Any]) -> dict[str, Any]:
    """A copy whose creatinine results are in umol/L (LOINC 14682-9), as many European labs send them.

    Used to time the first request that needs a unit conversion.
    """
    copy: dict[str, Any] = json.loads(json.dumps(body))
    bundles = [v for v in copy["prefetch"].values() if v.get("resourceType") == "Bundle"]
    for obs in (e["resource"] for bundle in bundles for e in bundle.get("entry", [])):
        if obs["resourceType"] != "Observation" or obs["code"]["coding"][0]["code"] != "2160-0":
            continue
        obs["code"]["coding"][0].update(
            code="14682-9", display="Creatinine [Moles/volume] in Serum or Plasma"
        )
        obs["valueQuantity"] = _quantity(
            round(obs["valueQuantity"]["value"] * _CREATININE_UMOL_PER_MG_DL, 0), "umol/L"
        )
        high = obs["referenceRange"][0]["high"]["value"]
        obs["referenceRange"] = [{"high": _quantity(round(high * _CREATININE_UMOL_PER_MG_DL, 0), "umol/L")}]
    return copy
