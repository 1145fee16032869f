"""A production-like stack for the fault tests: registry and settlement as real processes
(``serve``, ``ENV=prod``, generated tokens) on fresh PostgreSQL databases, a registry CSV of
patients imported, one hospital registered. Shared by the tests of this folder (module scope);
each test uses its own patients and brings back any process it stopped."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import DatabaseFactory
from tests.support.data import Patient, make_patients, registry_csv
from tests.support.processes import ServiceProcess, run_cli

PATIENTS = 3000


@dataclass
class Stack:
    registry: ServiceProcess
    settlement: ServiceProcess
    settlement_db: str
    registry_db: str
    admin_token: str
    api_key: str
    patients: list[Patient]
    log_dir: Path
    hospital_code: str = "H37030501"
    extra: dict[str, str] = field(default_factory=dict)

    def ensure_running(self) -> None:
        """Bring back whatever an earlier test left stopped."""
        if not self.registry.running():
            self.registry.start(timeout=60)
        if not self.settlement.running():
            self.settlement.start(timeout=60)

    def headers(self, key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def logs(self) -> str:
        """The last lines of both services' logs (long lines cut), for assertion messages."""

        def tail(process: ServiceProcess, lines: int) -> str:
            return "\n".join(line[:300] for line in process.log_tail(lines).splitlines())

        return (
            f"--- settlement log ---\n{tail(self.settlement, 20)}\n"
            f"--- registry log ---\n{tail(self.registry, 10)}"
        )


@pytest.fixture(scope="module")
def stack(
    database_factory: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    log_dir = tmp_path_factory.mktemp("fault-logs")
    registry_db = database_factory("postgres", "faults_registry")
    settlement_db = database_factory("postgres", "faults_settlement")
    read_token = secrets.token_urlsafe(32)
    registry_env = {
        "REGISTRY_ENV": "prod",
        "REGISTRY_DATABASE_URL": registry_db,
        "REGISTRY_ADMIN_TOKEN": secrets.token_urlsafe(32),
        "REGISTRY_READ_TOKENS": f"settlement:{read_token}",
        "REGISTRY_LOG_LEVEL": "WARNING",
    }
    patients = make_patients(PATIENTS, seed=23, start=500_000)
    run_cli("medaid-registry", ["migrate"], registry_env)
    csv_path = log_dir / "registry.csv"
    csv_path.write_text(registry_csv(patients), encoding="utf-8")
    run_cli("medaid-registry", ["import", str(csv_path)], registry_env)
    registry = ServiceProcess.serve(
        "medaid-registry", registry_env, log_path=log_dir / "registry.log"
    ).start(timeout=60)

    admin_token = secrets.token_urlsafe(32)
    settlement_env = {
        "SETTLEMENT_ENV": "prod",
        "SETTLEMENT_DATABASE_URL": settlement_db,
        "SETTLEMENT_ADMIN_TOKEN": admin_token,
        "SETTLEMENT_REGISTRY_URL": registry.base_url,
        "SETTLEMENT_REGISTRY_TOKEN": read_token,
        "SETTLEMENT_REGISTRY_TIMEOUT_S": "2",
        "SETTLEMENT_LOG_LEVEL": "WARNING",
    }
    run_cli("medaid-settlement", ["migrate"], settlement_env)
    settlement = ServiceProcess.serve(
        "medaid-settlement", settlement_env, log_path=log_dir / "settlement.log"
    )
    try:
        settlement.start(timeout=60)
        response = httpx.post(
            settlement.base_url + "/v1/hospitals",
            headers={"Authorization": f"Bearer {admin_token}"},
            json={
                "code": "H37030501",
                "name": "张店区人民医院",
                "level": 2,
                "region_code": "370305",
            },
            timeout=10,
        )
        assert response.status_code == 201, response.text
        yield Stack(
            registry=registry,
            settlement=settlement,
            settlement_db=settlement_db,
            registry_db=registry_db,
            admin_token=admin_token,
            api_key=response.json()["api_key"],
            patients=patients,
            log_dir=log_dir,
        )
    finally:
        settlement.stop()
        registry.stop()
