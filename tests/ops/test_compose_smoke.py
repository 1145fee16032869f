"""docker-compose.yml, run without Docker: the migrations and the two services start as local
processes with exactly the commands and environment the compose file gives them, and a bill
is settled through them.

Only what cannot work outside Docker is rewritten: the database URLs point at fresh
PostgreSQL databases, the host names ``postgres`` and ``registry`` become 127.0.0.1, the
ports become free ones, and the ``change-me`` placeholders of .env.example become random
secrets. The processes' output is then read to prove that no ID number or token was logged.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.idnumber import check_character
from tests.ops.compose import (
    ROOT,
    load_compose,
    read_env_file,
    service_command,
    service_environment,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

VENV_BIN = ROOT / ".venv" / "bin"
FIRST17 = "37030519650412003"
ID_NUMBER = FIRST17 + check_character(FIRST17)
START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stack:
    """The compose services as local processes."""

    def __init__(self, database_factory: Any, workdir: Path) -> None:
        self.compose = load_compose()
        self.workdir = workdir
        self.env_file = {
            key: (secrets.token_hex(20) if value.startswith("change-me") else value)
            for key, value in read_env_file().items()
        }
        pg = database_factory("postgres", "compose_registry")
        self.databases = {
            "REGISTRY": pg,
            "SETTLEMENT": database_factory("postgres", "compose_settlement"),
        }
        self.pg_host = re.match(r"postgresql://(?:[^@/]*@)?([^/]+)/", pg).group(1)  # type: ignore[union-attr]
        self.ports: dict[str, int] = {}  # compose port -> local port
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}

    def service(self, name: str) -> dict[str, Any]:
        service = self.compose["services"][name]
        assert isinstance(service, dict)
        return service

    def local_port(self, port: str | int) -> int:
        return self.ports.setdefault(str(port), free_port())

    def rewrite(self, value: str) -> str:
        value = re.sub(
            r"(?<=//)([^/@]*@)?postgres:5432", lambda m: (m[1] or "") + self.pg_host, value
        )

        def host(m: re.Match[str]) -> str:
            return f"//127.0.0.1:{self.local_port(m[2])}"

        return re.sub(r"//(registry|settlement):(\d+)", host, value)

    def environment(self, name: str) -> dict[str, str]:
        env = service_environment(self.service(name), self.env_file)
        out = {}
        for key, value in env.items():
            prefix = key.partition("_")[0]
            if key.endswith("_DATABASE_URL"):
                assert "@postgres:5432/" in value, f"{name}.{key} should point at postgres"
                out[key] = self.databases[prefix]
            else:
                out[key] = self.rewrite(value)
        return out

    def command(self, name: str) -> list[str]:
        command = service_command(self.service(name), self.env_file)
        exe = VENV_BIN / command[0]
        assert exe.exists(), f"{command[0]} is not installed in .venv (make install)"
        command[0] = str(exe)
        for i, part in enumerate(command[:-1]):
            if part == "--host":
                command[i + 1] = "127.0.0.1"
            elif part == "--port":
                command[i + 1] = str(self.local_port(command[i + 1]))
        return command

    def process_env(self, name: str) -> dict[str, str]:
        base = {k: os.environ[k] for k in ("PATH", "HOME", "SYSTEMROOT") if k in os.environ}
        base.update(LANG="C.UTF-8", PYTHONUNBUFFERED="1", TMPDIR=str(self.workdir))
        return {**base, **self.environment(name)}

    def run_once(self, name: str) -> None:
        result = subprocess.run(
            self.command(name),
            env=self.process_env(name),
            cwd=self.workdir,
            capture_output=True,
            timeout=180,
            check=False,
        )
        output = (result.stdout + result.stderr).decode(errors="replace")
        self.logs[f"{name}-{len(self.logs)}"] = self.workdir / f"{name}-{len(self.logs)}.log"
        list(self.logs.values())[-1].write_text(output)
        assert result.returncode == 0, f"{name} failed:\n{output}"

    def start(self, name: str) -> str:
        log = self.workdir / f"{name}.log"
        self.logs[name] = log
        command = self.command(name)
        with log.open("wb") as out:
            self.processes[name] = subprocess.Popen(
                command,
                env=self.process_env(name),
                cwd=self.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        base = f"http://127.0.0.1:{command[command.index('--port') + 1]}"
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.processes[name].poll() is not None:
                pytest.fail(f"{name} exited at start-up:\n{log.read_text()}")
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    return base
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        pytest.fail(f"{name} not ready after {START_TIMEOUT_S} s:\n{log.read_text()}")

    def stop(self) -> dict[str, int]:
        codes = {}
        for name, proc in reversed(list(self.processes.items())):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            codes[name] = proc.returncode
        return codes

    def output(self, name: str) -> str:
        return self.logs[name].read_text(errors="replace")


@pytest.fixture
def stack(database_factory: Any, tmp_path: Path) -> Iterator[Stack]:
    s = Stack(database_factory, tmp_path)
    try:
        yield s
    finally:
        s.stop()


def test_compose_services_settle_a_bill(stack: Stack) -> None:
    env = stack.env_file

    # One-shot migrations first; running them again (every upgrade does) changes nothing.
    for name in ("registry-migrate", "settlement-migrate", "registry-migrate"):
        stack.run_once(name)
    registry = stack.start("registry")
    settlement = stack.start("settlement")

    admin = {"Authorization": f"Bearer {env['REGISTRY_ADMIN_TOKEN']}"}
    csv = (
        "household_code,region_code,id_number,name,relation,category,effective_from,"
        "effective_to\n"
        f"HH-SMOKE-1,370305,{ID_NUMBER},王秀英,户主,registered_poor,2018-01-01,\n"
    )
    imported = httpx.post(
        f"{registry}/v1/imports",
        content=csv.encode(),
        headers={**admin, "Content-Type": "text/csv"},
        timeout=30,
    )
    assert imported.status_code in (200, 201), imported.text

    created = httpx.post(
        f"{settlement}/v1/hospitals",
        json={"code": "H370305001", "name": "临淄区人民医院", "level": 2, "region_code": "370305"},
        headers={"Authorization": f"Bearer {env['SETTLEMENT_ADMIN_TOKEN']}"},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    api_key = created.json()["api_key"]

    request_id = f"smoke-{uuid.uuid4().hex[:12]}"
    headers = {
        "Authorization": f"Bearer {api_key}",
        "Idempotency-Key": f"smoke-{uuid.uuid4()}",
        "X-Request-ID": request_id,
    }
    bill_in = {
        "patient": {"id_number": ID_NUMBER, "name": "王秀英"},
        "visit": {
            "visit_id": "ZY-SMOKE-0001",
            "type": "inpatient",
            "admitted_on": "2024-03-01",
            "discharged_on": "2024-03-12",
            "diagnoses": ["I63.9"],
        },
        "items": [
            {
                "code": "250101",
                "name": "床位费",
                "category": "A",
                "unit_price": "80",
                "quantity": 11,
            },
            {
                "code": "330201",
                "name": "手术费",
                "category": "A",
                "unit_price": "18000",
                "quantity": 1,
            },
            {
                "code": "860101",
                "name": "进口耗材",
                "category": "B",
                "unit_price": "6000",
                "quantity": 1,
            },
            {
                "code": "990101",
                "name": "特需病房",
                "category": "C",
                "unit_price": "500",
                "quantity": 2,
            },
        ],
    }
    settled = httpx.post(f"{settlement}/v1/settlements", json=bill_in, headers=headers, timeout=30)
    assert settled.status_code == 201, settled.text
    assert settled.headers["x-request-id"] == request_id
    bill = settled.json()
    assert ID_NUMBER not in settled.text
    assert bill["status"] == "settled"
    assert bill["patient"]["aid_class"] == "key"
    assert "registered_poor" in bill["patient"]["categories"]
    money = {k: Decimal(bill[k]) for k in ("medfee_sumamt", "fund_pay_sumamt", "psn_cash_pay")}
    assert money["medfee_sumamt"] == Decimal("25880.00")
    assert money["medfee_sumamt"] == money["fund_pay_sumamt"] + money["psn_cash_pay"]
    assert money["fund_pay_sumamt"] == sum(Decimal(r["fund_payamt"]) for r in bill["setldetail"])
    assert Decimal(bill["hifp_pay"]) > 0
    assert Decimal(bill["maf_pay"]) > 0  # the registry said poor: medical assistance paid

    replay = httpx.post(f"{settlement}/v1/settlements", json=bill_in, headers=headers, timeout=30)
    assert replay.status_code == 200, replay.text
    assert replay.json()["setl_id"] == bill["setl_id"]

    metrics = httpx.get(f"{settlement}/metrics", timeout=10).text
    assert 'route="/v1/settlements",status="201"} 1.0' in metrics
    assert 'route="/v1/settlements",status="200"} 1.0' in metrics
    registry_metrics = httpx.get(f"{registry}/metrics", timeout=10).text
    assert 'route="/v1/persons/{id_number}/eligibility",status="200"}' in registry_metrics
    assert ID_NUMBER not in metrics + registry_metrics
    # What the services record through the observability hooks.
    problems: list[str] = []
    expected = [
        (metrics, "medaid_settlements_total 1.0", "settle not recorded once (replay excluded)"),
        (
            metrics,
            f'medaid_settlement_fund_paid_yuan_total{{fund="390100"}} {float(bill["hifp_pay"])}',
            "basic-insurance amount of the bill not recorded",
        ),
        (metrics, 'medaid_registry_calls_total{outcome="ok"}', "registry call not recorded"),
        (metrics, 'medaid_db_pool_size{pool="main"}', "settlement DB pool not observed"),
        (registry_metrics, 'medaid_db_pool_size{pool="main"}', "registry DB pool not observed"),
    ]
    for text, needle, why in expected:
        if needle not in text:
            problems.append(f"metrics: {why} (no {needle!r})")

    codes = stack.stop()
    for name, code in codes.items():
        # uvicorn exits 0, or re-raises SIGTERM after its graceful shutdown.
        assert code in (0, -signal.SIGTERM), f"{name} exited {code}:\n{stack.output(name)}"

    # What the processes logged: JSON lines, none with an ID number or a secret, one line per
    # request, and the HIS's request id passed on to the registry. Every problem is listed.
    secret_values = {
        "the ID number": ID_NUMBER,
        "the hospital API key": api_key,
        "REGISTRY_ADMIN_TOKEN": env["REGISTRY_ADMIN_TOKEN"],
        "REGISTRY_READ_TOKEN": env["REGISTRY_READ_TOKEN"],
        "SETTLEMENT_ADMIN_TOKEN": env["SETTLEMENT_ADMIN_TOKEN"],
        "SETTLEMENT_RECEIPT_SECRET": env["SETTLEMENT_RECEIPT_SECRET"],
        "POSTGRES_PASSWORD": env["POSTGRES_PASSWORD"],
    }
    records: dict[str, list[dict[str, Any]]] = {}
    for name in ("registry", "settlement"):
        output = stack.output(name)
        for what, value in secret_values.items():
            for line in output.splitlines():
                if value in line:
                    problems.append(f"{name} logged {what}: {line[:300]!r}")
        records[name] = []
        for line in filter(str.strip, output.splitlines()):
            try:
                records[name].append(json.loads(line))
            except json.JSONDecodeError:
                problems.append(f"{name} logged a line that is not JSON: {line[:300]!r}")
        access = [r for r in records[name] if r.get("logger") == "medaid.access"]
        if not access:
            problems.append(f"{name} logged no request lines (medaid.access)")
    registry_ids = {
        r.get("request_id") for r in records["registry"] if r.get("logger") == "medaid.access"
    }
    if request_id not in registry_ids:
        problems.append("the settle request's X-Request-ID did not reach the registry's log")
    assert not problems, "\n".join(problems)
