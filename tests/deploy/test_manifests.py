"""Kubernetes manifests: every rendered document validates against a pinned Kubernetes version,
and the objects agree with each other (selectors, names, probes, settings)."""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from service.settings import Settings

KUBERNETES_VERSION = "1.30.0"  # oldest minor still in upstream/vendor support that we target
ROOT = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
TARGETS = ["base", "overlays/staging", "overlays/production"]
OVERLAYS = ["overlays/staging", "overlays/production"]

Document = dict[str, Any]
KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl (for `kubectl kustomize`) is not installed")


@cache
def _rendered_text(directory: Path) -> str:
    assert KUBECTL is not None
    completed = subprocess.run(
        [KUBECTL, "kustomize", str(directory)], capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def render(directory: Path) -> list[Document]:
    """The documents `kubectl kustomize <directory>` renders (a fresh copy on each call)."""
    return [doc for doc in yaml.safe_load_all(_rendered_text(directory)) if doc]


def one(docs: list[Document], kind: str, name: str | None = None) -> Document:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def pod_labels(docs: list[Document]) -> dict[str, str]:
    labels: dict[str, str] = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    return labels


def app_container(docs: list[Document]) -> Document:
    container: Document = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    return container


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


@pytest.fixture(scope="module", params=TARGETS)
def rendered(request: pytest.FixtureRequest) -> list[Document]:
    return render(ROOT / request.param)


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> list[Document]:
    return render(ROOT / request.param)


def test_every_document_validates(rendered: list[Document]) -> None:
    assert rendered
    for doc in rendered:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_validation_rejects_a_broken_document() -> None:
    deployment = one(render(ROOT / "base"), "Deployment")
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_overlays_have_every_required_object(overlay: list[Document]) -> None:
    kinds = {d["kind"] for d in overlay}
    required = {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Ingress",
        "ConfigMap",
        "Secret",
        "NetworkPolicy",
        "Job",
        "Namespace",
    }
    assert required <= kinds
    namespace = one(overlay, "Namespace")["metadata"]["name"]
    for doc in overlay:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == namespace, doc["kind"]


def test_deployment_is_replicated_probed_and_bounded(rendered: list[Document]) -> None:
    deployment = one(rendered, "Deployment")
    assert deployment["spec"]["replicas"] >= 2
    container = app_container(rendered)
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind])
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_pods_run_unprivileged_on_a_read_only_root(rendered: list[Document]) -> None:
    for kind in ("Deployment", "Job"):
        pod = one(rendered, kind)["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts  # the only scratch space on a read-only root


def test_graceful_shutdown_fits_in_the_grace_period(rendered: list[Document]) -> None:
    pod = one(rendered, "Deployment")["spec"]["template"]["spec"]
    container = app_container(rendered)
    env = {e["name"]: e["value"] for e in container["env"]}
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    shutdown = float(env["TOXHOOKS_GRACEFUL_SHUTDOWN_S"])
    assert pre_stop + shutdown < pod["terminationGracePeriodSeconds"]


def test_objects_point_at_each_other(rendered: list[Document]) -> None:
    labels = pod_labels(rendered)
    deployment = one(rendered, "Deployment")
    assert selects(deployment["spec"]["selector"]["matchLabels"], labels)
    assert selects(one(rendered, "Service")["spec"]["selector"], labels)
    assert selects(one(rendered, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"], labels)
    assert selects(one(rendered, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"], labels)
    hpa = one(rendered, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] >= 2
    assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    names = {(d["kind"], d["metadata"]["name"]) for d in rendered}
    for kind in ("Deployment", "Job"):
        pod = one(rendered, kind)["spec"]["template"]["spec"]
        assert ("ServiceAccount", pod["serviceAccountName"]) in names
        for container in pod["containers"]:
            for source in container["envFrom"]:
                if "configMapRef" in source:
                    assert ("ConfigMap", source["configMapRef"]["name"]) in names
                if "secretRef" in source:
                    assert ("Secret", source["secretRef"]["name"]) in names
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                assert ("ConfigMap", volume["configMap"]["name"]) in names
            if "secret" in volume:
                assert ("Secret", volume["secret"]["secretName"]) in names


def test_ingress_is_tls_and_publishes_only_cds_routes(overlay: list[Document]) -> None:
    ingress = one(overlay, "Ingress")
    service = one(overlay, "Service")
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    tls_hosts = {host for entry in ingress["spec"]["tls"] for host in entry["hosts"]}
    assert hosts <= tls_hosts
    port_names = {port["name"] for port in service["spec"]["ports"]}
    paths = []
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == service["metadata"]["name"]
            assert backend["port"]["name"] in port_names
            paths.append(path["path"])
    assert "/cds-services" in paths
    assert not any(p in ("/", "/metrics") or p.startswith(("/healthz", "/readyz")) for p in paths)


def test_network_policy_denies_by_default_and_allows_the_stores(rendered: list[Document]) -> None:
    policy = one(rendered, "NetworkPolicy")["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    egress_ports = {port["port"] for rule in policy["egress"] for port in rule["ports"]}
    assert {53, 5432, 6379} <= egress_ports
    for rule in policy["ingress"]:
        assert all("namespaceSelector" in peer for peer in rule["from"])  # never "from anywhere"


def test_migration_job_runs_db_upgrade_with_the_app_settings(rendered: list[Document]) -> None:
    job = one(rendered, "Job")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["db", "upgrade"]
    assert container["image"] == app_container(rendered)["image"]
    assert container["envFrom"] == app_container(rendered)["envFrom"]


@pytest.mark.parametrize("name", OVERLAYS)
def test_overlay_image_is_the_one_it_names(name: str) -> None:
    kustomization = yaml.safe_load((ROOT / name / "kustomization.yaml").read_text())
    [image] = kustomization["images"]
    docs = render(ROOT / name)
    expected = f"{image['newName']}:{image['newTag']}"
    assert app_container(docs)["image"] == expected
    assert one(docs, "Job")["spec"]["template"]["spec"]["containers"][0]["image"] == expected


def test_settings_and_secrets_are_real_settings(
    rendered: list[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = set(Settings.model_fields)
    env: dict[str, str] = {}
    for doc in rendered:
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "toxhooks-settings":
            env.update(doc["data"])
        if doc["kind"] == "Secret" and doc["metadata"]["name"] == "toxhooks-database":
            env.update(doc["stringData"])
    env.update({e["name"]: e["value"] for e in app_container(rendered).get("env", [])})
    assert env
    for key in env:
        assert key.startswith("TOXHOOKS_") and key.removeprefix("TOXHOOKS_").lower() in fields, key
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.workers == 1
    assert settings.trusted_issuers and settings.trusted_issuers[0].jwks_file is not None
    keys_secret = one(rendered, "Secret", "toxhooks-trusted-keys")
    assert settings.trusted_issuers[0].jwks_file.name in keys_secret["stringData"]
    json.loads(keys_secret["stringData"][settings.trusted_issuers[0].jwks_file.name])


def test_metrics_are_scraped_on_their_own_port_that_only_prometheus_reaches(rendered: list[Document]) -> None:
    settings = one(rendered, "ConfigMap", "toxhooks-settings")["data"]
    ports = {port["name"]: port["containerPort"] for port in app_container(rendered)["ports"]}
    assert int(settings["TOXHOOKS_METRICS_PORT"]) == ports["metrics"] != ports["http"]
    assert settings.get("TOXHOOKS_METRICS_ON_SERVICE_PORT", "false") == "false"
    annotations = one(rendered, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(ports["metrics"])
    # The Service (hence the Ingress) never carries the metrics port.
    service_ports = one(rendered, "Service")["spec"]["ports"]
    assert {port["targetPort"] for port in service_ports} == {"http"}
    # Only the Prometheus rule opens the metrics port; the ingress controller reaches the service port only.
    for rule in one(rendered, "NetworkPolicy")["spec"]["ingress"]:
        names = {port["port"] for port in rule["ports"]}
        peers = {peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for peer in rule["from"]}
        if "metrics" in names:
            assert peers == {"prometheus"} and names == {"metrics"}
        else:
            assert names == {"http"}
