"""``make run`` on a machine where a port is taken: the ports come from MEDAID_REGISTRY_PORT and
MEDAID_SETTLEMENT_PORT, and a bad or busy one is one line naming the variable, before anything
is installed, migrated or seeded."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.dev import (
    DEFAULT_PORTS,
    PortProblem,
    ports_from_environment,
    services,
)
from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


def test_ports_come_from_the_environment() -> None:
    registry, settlement = free_port(), free_port()
    ports = ports_from_environment(
        {"MEDAID_REGISTRY_PORT": str(registry), "MEDAID_SETTLEMENT_PORT": f" {settlement} "}
    )
    assert ports == {"registry": registry, "settlement": settlement}
    started = {s.name: s for s in services(ports, Path("/tmp/medaid-var"))}
    assert started["registry"].url == f"http://127.0.0.1:{registry}"
    assert started["settlement"].env["SETTLEMENT_REGISTRY_URL"] == f"http://127.0.0.1:{registry}"
    assert started["settlement"].env["SETTLEMENT_DATABASE_URL"] == (
        "sqlite:////tmp/medaid-var/settlement.db"
    )
    assert DEFAULT_PORTS == {"registry": 8001, "settlement": 8002}


@pytest.mark.parametrize(
    ("environ", "variable", "words"),
    [
        ({"MEDAID_REGISTRY_PORT": "eighty"}, "MEDAID_REGISTRY_PORT", "not a port number"),
        ({"MEDAID_SETTLEMENT_PORT": "70000"}, "MEDAID_SETTLEMENT_PORT", "not a port number"),
        (
            {"MEDAID_REGISTRY_PORT": "18123", "MEDAID_SETTLEMENT_PORT": "18123"},
            "MEDAID_SETTLEMENT_PORT",
            "different ports",
        ),
    ],
)
def test_a_bad_port_setting_names_its_variable(
    environ: dict[str, str], variable: str, words: str
) -> None:
    with pytest.raises(PortProblem) as raised:
        ports_from_environment(environ)
    message = str(raised.value)
    assert variable in message
    assert words in message
    assert "\n" not in message


def test_a_busy_port_names_its_variable(busy_port: int) -> None:
    with pytest.raises(PortProblem) as raised:
        ports_from_environment(
            {"MEDAID_REGISTRY_PORT": str(free_port()), "MEDAID_SETTLEMENT_PORT": str(busy_port)}
        )
    assert f"port {busy_port}" in str(raised.value)
    assert "MEDAID_SETTLEMENT_PORT" in str(raised.value)


def _env(**ports: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDAID_")}
    env.update({f"MEDAID_{name.upper()}_PORT": str(port) for name, port in ports.items()})
    return env


def test_the_dev_script_stops_before_setting_anything_up(busy_port: int) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scripts.dev"],
        cwd=ROOT,
        env=_env(registry=busy_port, settlement=free_port()),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""  # no "registry: migrate", nothing started
    assert result.stderr.count("\n") == 1
    assert "MEDAID_REGISTRY_PORT" in result.stderr
    assert str(busy_port) in result.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_checks_the_ports_before_it_installs(busy_port: int) -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "run", f"PYTHON={sys.executable}", "BIN=/nonexistent"],
        cwd=ROOT,
        env=_env(settlement=busy_port, registry=free_port()),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "pip" not in result.stdout + result.stderr  # nothing was installed
    assert "MEDAID_SETTLEMENT_PORT" in result.stderr.splitlines()[0]
