"""The floor app, the prefetch fitting and the target verdicts of the report."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from benchmarks.__main__ import main
from benchmarks.floor import create_floor_app
from benchmarks.harness import fit_prefetch
from benchmarks.payloads import order_sign_request
from benchmarks.report import markdown_table, summarise, warnings


async def test_floor_parses_and_returns_no_cards() -> None:
    transport = httpx.ASGITransport(app=create_floor_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://floor") as client:
        response = await client.post("/cds-services/any", content=b'{"hook":"order-sign"}')
        assert response.status_code == 200
        assert response.json() == {"cards": []}
        assert (await client.get("/readyz")).status_code == 200


def test_prefetch_is_rekeyed_by_resource_type() -> None:
    body = order_sign_request(200)
    fitted = fit_prefetch(
        body,
        {
            "pt": "Patient/{{context.patientId}}",
            "obs": "Observation?patient={{context.patientId}}&category=laboratory",
            "meds": "MedicationRequest?patient={{context.patientId}}&status=active",
        },
    )
    assert set(fitted["prefetch"]) == {"pt", "obs", "meds"}
    assert fitted["prefetch"]["obs"] is body["prefetch"]["labs"]
    assert fitted["prefetch"]["pt"]["resourceType"] == "Patient"
    assert fit_prefetch(body, None) is body


def _doc(service_rps: float, p99: float) -> dict:
    phase = {"throughput_rps": 0.0, "errors": 0, "latency_ms": {}}
    return {
        "saturation": {
            "floor": {"order-sign-200": {**phase, "throughput_rps": 100.0},
                      "order-sign-2000": {**phase, "throughput_rps": 10.0}},
            "service": {"order-sign-200": {**phase, "throughput_rps": service_rps},
                        "order-sign-2000": {**phase, "throughput_rps": service_rps / 10}},
        },
        "fixed_rate": {"rate_rps": 50.0, "service": {"latency_ms": {"p99": p99}}},
        "startup_s": {"service": 1.0},
        "memory_after_load_mb": {"service": {"peak_rss_mb": 150.0}},
        "stages": {"order-sign-200": {"whole_min_ms": 1.0, "stages_ms": {}},
                   "order-sign-2000": {"whole_min_ms": 13.0, "stages_ms": {}}},
    }  # fmt: skip


def test_verdicts_follow_the_targets() -> None:
    good = summarise(_doc(service_rps=60.0, p99=20.0))
    assert good["figures"]["throughput_ratio_200"] == 0.6
    assert good["verdicts"]["throughput_ratio_200"] == "met"
    assert good["verdicts"]["p99_ms_half_floor_rate"] == "met"
    assert good["figures"]["cost_growth_2000_vs_200_http"] == 10.0
    assert good["verdicts"]["cost_growth_2000_vs_200_in_process"] == "MISSED"  # 13x > 12x
    bad = summarise(_doc(service_rps=40.0, p99=80.0))
    assert bad["verdicts"]["throughput_ratio_200"] == "MISSED"
    assert bad["verdicts"]["p99_ms_half_floor_rate"] == "MISSED"
    assert "| service/floor throughput, order-sign 200 obs | 0.40 | >= 0.5 | MISSED |" in markdown_table(
        _doc(service_rps=40.0, p99=80.0)
    )


def test_missing_figures_are_reported_not_guessed() -> None:
    assert summarise({})["verdicts"]["startup_s"] == "not measured"


def test_error_answers_and_a_slow_client_are_flagged() -> None:
    doc = _doc(service_rps=60.0, p99=20.0)
    doc["responses"] = {"order-sign-200": {"status": 412}}
    doc["client_ceiling"] = {"throughput_rps": 150.0}
    found = warnings(doc)
    assert any("HTTP 412" in w for w in found)
    assert any("ceiling is only 1.5" in w for w in found)
    assert warnings(_doc(service_rps=60.0, p99=20.0)) == []


def test_generate_writes_the_same_files_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", str(tmp_path / "a"), "--anchor", "2026-02-03"]) == 0
    assert main(["generate", str(tmp_path / "b"), "--anchor", "2026-02-03"]) == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["order-sign-200.json", "order-sign-2000.json", "patient-view-3.json"]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert "order-sign-200.json" in capsys.readouterr().out
