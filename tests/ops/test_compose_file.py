"""docker-compose.yml checked offline: structure, start-up order, secrets only from .env.

``docker compose config`` also runs when the Compose plugin is installed (this machine has
the docker CLI without it, and no engine)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.ops.compose import (
    ENV_EXAMPLE,
    ROOT,
    MissingVariable,
    interpolate,
    load_compose,
    read_env_file,
    service_command,
    service_environment,
    variables,
)

SECRET_HINTS = ("TOKEN", "PASSWORD", "DATABASE_URL", "SECRET", "KEY")


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    return read_env_file()


def all_strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in all_strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in all_strings(v)]
    return []


def test_services_and_volume(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == {
        "postgres",
        "registry-migrate",
        "settlement-migrate",
        "registry",
        "settlement",
    }
    postgres = services["postgres"]
    assert "pgdata" in compose["volumes"]
    assert any(v.startswith("pgdata:") for v in postgres["volumes"])
    assert postgres["healthcheck"]["test"]
    init = [v for v in postgres["volumes"] if "docker-entrypoint-initdb.d" in v]
    init_dir = ROOT / init[0].split(":")[0]
    sql = "".join(p.read_text() for p in sorted(init_dir.glob("*.sql")))
    assert "CREATE DATABASE registry" in sql
    assert "CREATE DATABASE settlement" in sql


def test_start_up_order(compose: dict) -> None:
    s = compose["services"]

    def conditions(name: str) -> dict[str, str]:
        return {dep: spec["condition"] for dep, spec in s[name]["depends_on"].items()}

    assert conditions("registry-migrate") == {"postgres": "service_healthy"}
    assert conditions("settlement-migrate") == {"postgres": "service_healthy"}
    assert conditions("registry") == {
        "postgres": "service_healthy",
        "registry-migrate": "service_completed_successfully",
    }
    assert conditions("settlement") == {
        "postgres": "service_healthy",
        "settlement-migrate": "service_completed_successfully",
        "registry": "service_healthy",
    }
    # service_healthy needs a health check on the service waited for.
    assert s["registry"]["healthcheck"]["test"]
    assert s["registry-migrate"]["restart"] == "no"
    assert s["settlement-migrate"]["restart"] == "no"


def test_commands_and_images(compose: dict, env: dict[str, str]) -> None:
    s = compose["services"]
    for name in ("registry", "settlement"):
        exe = f"medaid-{name}"
        assert service_command(s[f"{name}-migrate"], env) == [exe, "migrate"]
        serve = service_command(s[name], env)
        assert serve[:2] == [exe, "serve"]
        assert serve[serve.index("--host") + 1] == "0.0.0.0"
        for service in (s[name], s[f"{name}-migrate"]):
            assert service["build"]["context"] == "."
            assert (ROOT / service["build"]["dockerfile"]).is_file()
            assert interpolate(service["image"], env) == f"{exe}:{env['MEDAID_VERSION']}"
            assert service["read_only"] is True
            assert service["cap_drop"] == ["ALL"]
        # The migration runs with the environment of the service it migrates.
        assert s[f"{name}-migrate"]["environment"] == s[name]["environment"]


def test_settlement_reaches_the_registry_by_service_name(
    compose: dict, env: dict[str, str]
) -> None:
    s = compose["services"]
    registry_cmd = service_command(s["registry"], env)
    port = registry_cmd[registry_cmd.index("--port") + 1]
    settlement_env = service_environment(s["settlement"], env)
    assert settlement_env["SETTLEMENT_REGISTRY_URL"] == f"http://registry:{port}"
    registry_env = service_environment(s["registry"], env)
    # The settlement service's token is one of the registry's read tokens ("label:token").
    read_tokens = [e.rpartition(":")[2] for e in registry_env["REGISTRY_READ_TOKENS"].split(",")]
    assert settlement_env["SETTLEMENT_REGISTRY_TOKEN"] in read_tokens
    for name, db in (("registry", "registry"), ("settlement", "settlement")):
        url = service_environment(s[name], env)[f"{name.upper()}_DATABASE_URL"]
        assert url.startswith("postgresql://")
        assert url.endswith(f"@postgres:5432/{db}")


def test_secrets_come_only_from_the_env_file(compose: dict, env: dict[str, str]) -> None:
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if any(hint in key for hint in SECRET_HINTS):
                refs = [v for v, _ in variables(str(value))]
                assert refs, f"{name}.{key} is a literal; take it from .env"
    # Every variable the file needs without a default is in .env.example, and the example
    # has nothing compose does not use.
    used: dict[str, set[str | None]] = {}
    for text in all_strings(compose):
        for var, op in variables(text):
            used.setdefault(var, set()).add(op)
    required = {v for v, ops in used.items() if ops & {None, ":?", "?"}}
    assert required <= set(env), sorted(required - set(env))
    assert set(env) <= set(used), sorted(set(env) - set(used))
    # No real secrets in the example.
    for key, value in env.items():
        if any(hint in key for hint in SECRET_HINTS):
            assert value.startswith("change-me"), key


def test_missing_secret_stops_compose(compose: dict, env: dict[str, str]) -> None:
    incomplete = {k: v for k, v in env.items() if k != "REGISTRY_ADMIN_TOKEN"}
    with pytest.raises(MissingVariable, match="REGISTRY_ADMIN_TOKEN"):
        service_environment(compose["services"]["registry"], incomplete)


def test_env_files_stay_out_of_git_and_images() -> None:
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    entries = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert entries[0] == "*"  # an allow-list: only what the images need is sent
    assert "**/.env" in entries


def test_interpolation_rules() -> None:
    env = {"A": "1", "EMPTY": ""}
    assert interpolate("${A}-${B:-x}-${EMPTY:-d}-${EMPTY-d}-$A-$$A", env) == "1-x-d--1-$A"
    with pytest.raises(MissingVariable):
        interpolate("${B:?needed}", env)


def _compose_plugin() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not _compose_plugin(), reason="docker compose plugin not installed")
def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(ENV_EXAMPLE.read_text())
    result = subprocess.run(
        [
            "docker",
            "compose",
            "--env-file",
            str(env_file),
            "-f",
            "docker-compose.yml",
            "config",
            "-q",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
