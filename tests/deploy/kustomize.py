"""A small kustomize renderer for the subset the toxhooks manifests use (no kustomize binary needed).

Supported: resources (files and directories), namespace, labels (metadata only), images and
strategic-merge patches given by path. Any other field is rejected, so the manifests cannot
drift into features this renderer would silently ignore.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

__all__ = ["CLUSTER_SCOPED", "KustomizeError", "render"]

Document = dict[str, Any]

SUPPORTED_FIELDS = frozenset({"apiVersion", "kind", "namespace", "labels", "resources", "images", "patches"})
CLUSTER_SCOPED = frozenset(
    {"Namespace", "ClusterRole", "ClusterRoleBinding", "IngressClass", "PriorityClass"}
)
# List fields that strategic merge joins element by element on a key, as the Kubernetes
# API does for containers, env, volumes and ports; other lists are replaced.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
}


class KustomizeError(ValueError):
    """The kustomization uses something this renderer does not support, or is inconsistent."""


def _load_documents(path: Path) -> list[Document]:
    with path.open() as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc]


def _merge(base: Any, patch: Any, field: str | None = None) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        if any(key.startswith("$") for key in patch):
            raise KustomizeError(f"patch directives are not supported: {sorted(patch)}")
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = _merge(base[key], value, key) if key in base else copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(patch, list) and field in MERGE_KEYS:
        key = MERGE_KEYS[field]
        merged_list = [copy.deepcopy(item) for item in base]
        for item in patch:
            for index, existing in enumerate(merged_list):
                if existing.get(key) == item.get(key):
                    merged_list[index] = _merge(existing, item)
                    break
            else:
                merged_list.append(copy.deepcopy(item))
        return merged_list
    return copy.deepcopy(patch)


def _pod_specs(doc: Document) -> list[Document]:
    spec = doc.get("spec", {})
    if doc["kind"] == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    pod = spec.get("template", {}).get("spec")
    return [pod] if isinstance(pod, dict) else []


def _apply_images(docs: list[Document], images: list[Document]) -> None:
    for doc in docs:
        for pod in _pod_specs(doc):
            for container in [*pod.get("containers", []), *pod.get("initContainers", [])]:
                name = container["image"].split("@")[0].rsplit(":", 1)[0]
                for image in images:
                    if image["name"] == name:
                        new_name = image.get("newName", name)
                        container["image"] = (
                            f"{new_name}:{image['newTag']}" if "newTag" in image else new_name
                        )


def _identity(doc: Document) -> tuple[str, str]:
    return doc["kind"], doc["metadata"]["name"]


def render(directory: Path) -> list[Document]:
    """The documents `kubectl kustomize <directory>` produces for the supported subset."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(kustomization) - SUPPORTED_FIELDS
    if unsupported:
        raise KustomizeError(f"{directory}: unsupported kustomization fields {sorted(unsupported)}")
    docs: list[Document] = []
    for resource in kustomization.get("resources", []):
        target = (directory / resource).resolve()
        docs.extend(render(target) if target.is_dir() else _load_documents(target))
    identities = [_identity(doc) for doc in docs]
    if len(set(identities)) != len(identities):
        raise KustomizeError(f"{directory}: duplicate resources {identities}")
    for patch_ref in kustomization.get("patches", []):
        if set(patch_ref) != {"path"}:
            raise KustomizeError(f"{directory}: only patches with a path are supported")
        for patch in _load_documents(directory / patch_ref["path"]):
            matches = [i for i, doc in enumerate(docs) if _identity(doc) == _identity(patch)]
            if len(matches) != 1:
                raise KustomizeError(
                    f"{directory}: patch {_identity(patch)} matches {len(matches)} resources"
                )
            docs[matches[0]] = _merge(docs[matches[0]], patch)
    _apply_images(docs, kustomization.get("images", []))
    for entry in kustomization.get("labels", []):
        if entry.get("includeSelectors") or entry.get("includeTemplates"):
            raise KustomizeError(f"{directory}: labels are applied to metadata only here")
        for doc in docs:
            doc["metadata"].setdefault("labels", {}).update(entry["pairs"])
    namespace = kustomization.get("namespace")
    if namespace:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = namespace
    return docs
