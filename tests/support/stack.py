"""A production-like stack: registry and settlement as real processes (``serve``,
``ENV=prod``, generated tokens) on given PostgreSQL databases, a registry CSV of patients
imported, one hospital registered. Used by the fault tests (on the machine's server) and the
cluster tests (on a replicated pair, or through PgBouncer)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.data import Patient, registry_csv
from tests.support.processes import ServiceProcess, run_cli


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


@contextmanager
def running_stack(
    registry_db: str,
    settlement_db: str,
    log_dir: Path,
    patients: list[Patient],
    *,
    registry_env: Mapping[str, str] | None = None,
    settlement_env: Mapping[str, str] | None = None,
) -> Iterator[Stack]:
    """Migrate both databases, import ``patients`` into the registry, start both services,
    register a hospital; stop both services at the end. The ``*_env`` mappings add or
    override settings."""
    read_token = secrets.token_urlsafe(32)
    reg_env = {
        "REGISTRY_ENV": "prod",
        "REGISTRY_DATABASE_URL": registry_db,
        "REGISTRY_ADMIN_TOKEN": secrets.token_urlsafe(32),
        "REGISTRY_READ_TOKENS": f"settlement:{read_token}",
        "REGISTRY_LOG_LEVEL": "WARNING",
        **(registry_env or {}),
    }
    run_cli("medaid-registry", ["migrate"], reg_env)
    csv_path = log_dir / "registry.csv"
    csv_path.write_text(registry_csv(patients), encoding="utf-8")
    run_cli("medaid-registry", ["import", str(csv_path)], reg_env)
    registry = ServiceProcess.serve("medaid-registry", reg_env, log_path=log_dir / "registry.log")
    registry.start(timeout=60)

    admin_token = secrets.token_urlsafe(32)
    set_env = {
        "SETTLEMENT_ENV": "prod",
        "SETTLEMENT_DATABASE_URL": settlement_db,
        "SETTLEMENT_ADMIN_TOKEN": admin_token,
        "SETTLEMENT_REGISTRY_URL": registry.base_url,
        "SETTLEMENT_REGISTRY_TOKEN": read_token,
        "SETTLEMENT_RECEIPT_SECRET": secrets.token_urlsafe(32),
        "SETTLEMENT_REGISTRY_TIMEOUT_S": "2",
        "SETTLEMENT_LOG_LEVEL": "WARNING",
        **(settlement_env or {}),
    }
    settlement = ServiceProcess.serve(
        "medaid-settlement", set_env, log_path=log_dir / "settlement.log"
    )
    try:
        run_cli("medaid-settlement", ["migrate"], set_env)
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
