"""End to end with real processes: ``medaid-registry serve`` and ``medaid-settlement serve`` on
free ports of 127.0.0.1, PostgreSQL databases migrated by the two command lines, a CSV import
into the registry, then the HIS's calls; finally the registry is stopped and a settle answers
503 with Retry-After and writes nothing."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.settlement.conftest import (
    bill_body,
    check_bill,
    make_id_number,
    standard_items,
    without_link,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


def run_cli(command: str, args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        [str(BIN / command), *args],
        env={**os.environ, **env},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode() + result.stdout.decode()
    return result.stdout.decode()


def start(command: str, env: dict[str, str], log: Path) -> Process:
    port = free_port()
    handle = log.open("wb")
    popen = subprocess.Popen(
        # One worker, one process to stop (tests/ops/test_compose_smoke.py runs the default).
        [str(BIN / command), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env={**os.environ, **env},
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    handle.close()
    process = Process(command, popen, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise AssertionError(f"{command} exited early:\n{process.log_tail()}")
        try:
            if httpx.get(process.base_url + "/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.stop()
    raise AssertionError(f"{command} did not start:\n{process.log_tail()}")


@dataclass
class Stack:
    registry: Process
    settlement: Process
    registry_admin: str
    admin: str
    settlement_db: str


@pytest.fixture(scope="module")
def stack(database_factory: Callable[[str, str], str], tmp_path_factory: Any) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("e2e")
    registry_db = database_factory("postgres", "e2e_registry")
    settlement_db = database_factory("postgres", "e2e_settlement")
    registry_admin, read_token, admin = (secrets.token_urlsafe(24) for _ in range(3))
    registry_env = {
        "REGISTRY_ENV": "prod",
        "REGISTRY_DATABASE_URL": registry_db,
        "REGISTRY_ADMIN_TOKEN": registry_admin,
        "REGISTRY_READ_TOKENS": f"settlement:{read_token}",
    }
    run_cli("medaid-registry", ["migrate"], registry_env)
    registry = start("medaid-registry", registry_env, tmp / "registry.log")
    settlement_env = {
        "SETTLEMENT_ENV": "prod",
        "SETTLEMENT_DATABASE_URL": settlement_db,
        "SETTLEMENT_ADMIN_TOKEN": admin,
        "SETTLEMENT_REGISTRY_URL": registry.base_url,
        "SETTLEMENT_REGISTRY_TOKEN": read_token,
        "SETTLEMENT_RECEIPT_SECRET": secrets.token_urlsafe(32),
        "SETTLEMENT_ELIGIBILITY_TTL_S": "0",
        "SETTLEMENT_REGISTRY_TIMEOUT_S": "2",
    }
    try:
        run_cli("medaid-settlement", ["migrate"], settlement_env)
        settlement = start("medaid-settlement", settlement_env, tmp / "settlement.log")
    except BaseException:
        registry.stop()
        raise
    try:
        yield Stack(registry, settlement, registry_admin, admin, settlement_db)
    finally:
        settlement.stop()
        registry.stop()


async def count_rows(url: str, sql: str, *args: Any) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(sql, *args))
    finally:
        await conn.close()


async def test_the_his_journey_against_real_processes(stack: Stack) -> None:
    poor = make_id_number("19650312")
    exited = make_id_number("19580630")
    csv = (
        "household_code,region_code,id_number,name,relation,category,effective_from,"
        "effective_to\n"
        f"HE2E0001,370305,{poor},张建国,户主,registered_poor,2016-03-01,\n"
        f"HE2E0002,370305,{exited},王桂兰,户主,dibao,2020-01-01,2026-01-31\n"
    )
    async with httpx.AsyncClient(timeout=30) as http:
        imported = await http.post(
            f"{stack.registry.base_url}/v1/imports",
            content=csv.encode(),
            headers={"Authorization": f"Bearer {stack.registry_admin}", "Content-Type": "text/csv"},
        )
        assert imported.status_code in (200, 201), imported.text

        s = stack.settlement.base_url
        admin = {"Authorization": f"Bearer {stack.admin}"}
        keys = []
        for code in ("HE2E1", "HE2E2"):
            response = await http.post(
                f"{s}/v1/hospitals",
                json={"code": code, "name": f"医院{code}", "level": 2, "region_code": "370305"},
                headers=admin,
            )
            assert response.status_code == 201, response.text
            keys.append(response.json()["api_key"])
        mine = {"Authorization": f"Bearer {keys[0]}"}
        theirs = {"Authorization": f"Bearer {keys[1]}"}

        # Admission: a registered poor patient is treated first and pays later.
        visit_id = "ZYE2E0001"
        admission = await http.post(
            f"{s}/v1/admissions",
            json={
                "patient": {"id_number": poor, "name": "张建国"},
                "visit": {"visit_id": visit_id, "admitted_on": "2026-03-02"},
            },
            headers={**mine, "X-Request-ID": "e2e-admission-1"},
        )
        assert admission.status_code == 201, admission.text
        assert admission.json()["deposit_free"] is True
        assert admission.json()["patient"]["categories"] == ["registered_poor"]

        body = bill_body(poor, visit_id=visit_id, items=standard_items())
        preview = await http.post(f"{s}/v1/settlements/preview", json=body, headers=mine)
        assert preview.status_code == 200, preview.text
        check_bill(preview.json())

        settled = await http.post(
            f"{s}/v1/settlements", json=body, headers={**mine, "Idempotency-Key": "e2e-1"}
        )
        assert settled.status_code == 201, settled.text
        bill = settled.json()
        check_bill(bill)
        assert bill["patient"]["aid_class"] == "key"
        assert bill["patient"]["eligibility_source"] == "admission"
        for name in ("medfee_sumamt", "fund_pay_sumamt", "psn_cash_pay", "maf_pay"):
            assert bill[name] == preview.json()[name]
        assert settled.headers.get("x-request-id")

        replay = await http.post(
            f"{s}/v1/settlements", json=body, headers={**mine, "Idempotency-Key": "e2e-1"}
        )
        assert replay.status_code == 200
        assert without_link(replay.json()) == without_link(bill)

        acc = await http.get(f"{s}/v1/persons/{poor}/accumulators", headers=mine)
        assert acc.status_code == 200, acc.text
        paid = {
            (f["fund_pay_type"], f["visit_type"]): f["paid_this_year"] for f in acc.json()["funds"]
        }
        assert paid[("390100", "inpatient")] == bill["hifp_pay"]
        assert paid[("610100", None)] == bill["maf_pay"]
        assert (
            await http.get(f"{s}/v1/persons/{poor}/accumulators", headers=theirs)
        ).status_code == 403

        receipt = await http.get(f"{s}/v1/settlements/{bill['setl_id']}/receipt", headers=mine)
        assert receipt.status_code == 200
        assert "一站式结算单" in receipt.text
        assert bill["psn_cash_pay"] in receipt.text
        assert poor not in receipt.text

        for path in (
            f"/v1/settlements/{bill['setl_id']}",
            f"/v1/settlements/{bill['setl_id']}/receipt",
        ):
            response = await http.get(s + path, headers=theirs)
            assert response.status_code == 404
            assert response.headers["content-type"].startswith("application/problem+json")

        revoked = await http.post(f"{s}/v1/settlements/{bill['setl_id']}/revoke", headers=mine)
        assert revoked.status_code == 200
        assert revoked.json()["status"] == "revoked"
        again = await http.post(f"{s}/v1/settlements/{bill['setl_id']}/revoke", headers=mine)
        assert without_link(again.json()) == without_link(revoked.json())
        acc = await http.get(f"{s}/v1/persons/{poor}/accumulators", headers=mine)
        assert acc.json()["totals"] == {}

        # A person whose dibao status ended before the visit is an ordinary insured person.
        plain = await http.post(
            f"{s}/v1/settlements",
            json=bill_body(exited, admitted_on="2026-03-02", total="5000.00"),
            headers={**mine, "Idempotency-Key": "e2e-2"},
        )
        assert plain.status_code == 201, plain.text
        assert plain.json()["patient"]["aid_class"] == "none"
        assert plain.json()["patient"]["registered"] is True

        # The registry goes away: a clear 503, nothing written.
        stack.registry.stop()
        bills_before = await count_rows(stack.settlement_db, "SELECT count(*) FROM bills")
        audit_before = await count_rows(stack.settlement_db, "SELECT count(*) FROM audit_log")
        down_body = bill_body(poor, visit_id="ZYE2E0002", total="8000.00")
        down = await http.post(
            f"{s}/v1/settlements", json=down_body, headers={**mine, "Idempotency-Key": "e2e-3"}
        )
        assert down.status_code == 503, down.text
        assert int(down.headers["retry-after"]) >= 1
        assert down.headers["content-type"].startswith("application/problem+json")
        assert (
            await http.post(f"{s}/v1/settlements/preview", json=down_body, headers=mine)
        ).status_code == 503
        assert await count_rows(stack.settlement_db, "SELECT count(*) FROM bills") == bills_before
        assert (
            await count_rows(
                stack.settlement_db, "SELECT count(*) FROM bills WHERE visit_id = $1", "ZYE2E0002"
            )
            == 0
        )
        assert (
            await count_rows(stack.settlement_db, "SELECT count(*) FROM audit_log") == audit_before
        )
        # A retry of the bill settled before the outage still answers.
        replay = await http.post(
            f"{s}/v1/settlements", json=body, headers={**mine, "Idempotency-Key": "e2e-1"}
        )
        assert replay.status_code == 200
        # Alive, but not ready: a settle cannot succeed without the registry.
        assert (await http.get(f"{s}/healthz")).status_code == 200
        ready = await http.get(f"{s}/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["registry"].startswith("failed")
    assert stack.settlement.popen.poll() is None
    await asyncio.sleep(0)
