"""Settings, start-up, the command line, the migrations, API docs and the receipt's numerals."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pydantic import ValidationError
from typer.testing import CliRunner

from settlement.app import create_app
from settlement.cli import app as cli
from settlement.config import DEV_ADMIN_TOKEN, DEV_RECEIPT_SECRET, Settings
from settlement.database import Database
from settlement.engine import PolicyError
from settlement.models import metadata
from tests.settlement.conftest import (
    ADMIN_TOKEN,
    BACKENDS,
    RECEIPT_SECRET,
    REGISTRY_TOKEN,
    Service,
    migrate,
    settings_for,
)

SECURE = {
    "admin_token": ADMIN_TOKEN,
    "registry_token": REGISTRY_TOKEN,
    "receipt_secret": RECEIPT_SECRET,
}


@pytest.mark.parametrize(
    ("tokens", "named"),
    [
        ({}, "SETTLEMENT_ADMIN_TOKEN"),
        ({**SECURE, "registry_token": None}, "SETTLEMENT_REGISTRY_TOKEN"),
        ({**SECURE, "admin_token": "short"}, "SETTLEMENT_ADMIN_TOKEN"),
        ({**SECURE, "admin_token": "dev-settlement-admin-token"}, "SETTLEMENT_ADMIN_TOKEN"),
        ({**SECURE, "registry_token": "dev-registry-read-token"}, "SETTLEMENT_REGISTRY_TOKEN"),
        ({**SECURE, "receipt_secret": None}, "SETTLEMENT_RECEIPT_SECRET"),
        ({**SECURE, "receipt_secret": "short-secret"}, "SETTLEMENT_RECEIPT_SECRET"),
        ({**SECURE, "receipt_secret": DEV_RECEIPT_SECRET}, "SETTLEMENT_RECEIPT_SECRET"),
    ],
)
@pytest.mark.parametrize("env", ["prod", "test"])
def test_settings_refuse_missing_or_demo_tokens_outside_dev(
    env: str, tokens: dict[str, str | None], named: str
) -> None:
    with pytest.raises(ValidationError, match=named):
        Settings(env=env, **tokens)  # type: ignore[arg-type]


def test_settings_accept_secure_tokens_and_check_the_public_url() -> None:
    settings = Settings(env="prod", database_url="sqlite://", **SECURE)
    assert settings.receipt_secret == RECEIPT_SECRET
    assert settings.receipt_ttl_s == 24 * 3600
    assert settings.public_url is None
    given = Settings(env="prod", **SECURE, public_url="https://medaid.example.org/api/")
    assert given.public_url == "https://medaid.example.org/api"
    for bad in ("ftp://medaid.example.org", "medaid.example.org", "https://x.org/?a=1"):
        with pytest.raises(ValidationError, match="SETTLEMENT_PUBLIC_URL"):
            Settings(env="prod", **SECURE, public_url=bad)
    with pytest.raises(ValidationError, match="receipt_ttl_s"):
        Settings(env="prod", **SECURE, receipt_ttl_s=10)


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SETTLEMENT_ENV", "prod")
    monkeypatch.setenv("SETTLEMENT_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("SETTLEMENT_REGISTRY_TOKEN", REGISTRY_TOKEN)
    monkeypatch.setenv("SETTLEMENT_RECEIPT_SECRET", RECEIPT_SECRET)
    monkeypatch.setenv("SETTLEMENT_RECEIPT_TTL_S", "3600")
    monkeypatch.setenv("SETTLEMENT_REGISTRY_URL", "http://registry.internal:8001")
    monkeypatch.setenv("SETTLEMENT_POLICY_DIR", str(tmp_path))
    monkeypatch.setenv("SETTLEMENT_ELIGIBILITY_TTL_S", "15")
    settings = Settings()
    assert settings.registry_url == "http://registry.internal:8001"
    assert settings.policy_dir == tmp_path
    assert settings.eligibility_ttl_s == 15
    assert settings.receipt_secret == RECEIPT_SECRET
    assert settings.receipt_ttl_s == 3600
    assert settings.database_url == "sqlite:///./var/settlement.db"


def test_dev_settings_have_demo_tokens() -> None:
    settings = Settings(env="dev")
    assert settings.admin_token == DEV_ADMIN_TOKEN
    assert settings.registry_token
    assert settings.receipt_secret == DEV_RECEIPT_SECRET


async def test_a_bad_policy_stops_start_up(tmp_path: Path) -> None:
    (tmp_path / "2020.toml").write_text('version = "2020"\neffective_from = "not a date"\n')
    app = create_app(settings_for(f"sqlite:///{tmp_path}/x.db", policy_dir=tmp_path))
    with pytest.raises(PolicyError, match="effective_from"):
        async with app.router.lifespan_context(app):
            pass


def test_cli_migrate_and_hospital_add(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("SETTLEMENT_DATABASE_URL", url)
    monkeypatch.setenv("SETTLEMENT_ENV", "dev")
    runner = CliRunner()
    result = runner.invoke(cli, ["migrate"])
    assert result.exit_code == 0, result.output
    args = [
        "hospital",
        "add",
        "--code",
        "H9",
        "--name",
        "县医院",
        "--level",
        "2",
        "--region-code",
        "370305",
    ]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert re.fullmatch(r"mk_[A-Za-z0-9_-]{40,}", key)
    again = runner.invoke(cli, args)
    assert again.exit_code == 1
    assert "already exists" in again.output
    bad = runner.invoke(
        cli,
        [
            "hospital",
            "add",
            "--code",
            "H10",
            "--name",
            "x",
            "--level",
            "7",
            "--region-code",
            "370305",
        ],
    )
    assert bad.exit_code == 2
    assert "--level" in bad.output

    async def stored_hash() -> str:
        from sqlalchemy import text

        db = Database.from_url(url)
        try:
            async with db.read() as conn:
                return str(
                    (await conn.execute(text("SELECT api_key_hash FROM hospitals"))).scalar_one()
                )
        finally:
            await db.dispose()

    from shared.security import hash_secret

    assert asyncio.run(stored_hash()) == hash_secret(key)


def test_cli_refuses_insecure_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SETTLEMENT_ENV", "prod")
    monkeypatch.delenv("SETTLEMENT_ADMIN_TOKEN", raising=False)
    result = CliRunner().invoke(cli, ["migrate"])
    assert result.exit_code == 2
    assert "SETTLEMENT_ADMIN_TOKEN" in result.output


def test_cli_serve_refuses_a_bad_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bad.toml").write_text("version = 1\n")
    monkeypatch.setenv("SETTLEMENT_ENV", "dev")
    monkeypatch.setenv("SETTLEMENT_POLICY_DIR", str(tmp_path))
    result = CliRunner().invoke(cli, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert "policy error" in result.output


# What the models (one ``bills`` table, SQLite's shape) and PostgreSQL's partitioned layout
# (migration 0010) differ in: the global keys live on ``bill_keys``, which the references to a
# bill point to, and ``bills`` has plain indexes for the lookups they served. ``bill_keys`` and
# the month partitions are left out of the comparison (tests/settlement/bills/ check them).
PARTITIONED_LAYOUT = {
    ("add_constraint", "uq_bills_idempotency"),
    ("add_index", "uq_bills_settled_visit"),
    ("add_index", "uq_bills_init_setl_id"),
    ("remove_index", "ix_bills_idempotency"),
    ("remove_index", "ix_bills_init_setl_id"),
    ("add_fk", "fk_bills_init_setl_id_bills"),
    *(
        change
        for table in ("bill_funds", "grant_uses", "supervision_flags")
        for change in (
            ("add_fk", f"fk_{table}_setl_id_bills"),
            ("remove_fk", f"fk_{table}_setl_id_bill_keys"),
        )
    ),
}


def _not_a_partition(name: str | None, type_: str, parent_names: object) -> bool:
    partition = re.fullmatch(r"bill_keys|bills_(\d{4}_\d{2}|default)", name or "")
    return not (type_ == "table" and partition)


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_match_the_models(
    backend: str, database_factory: Callable[[str, str], str]
) -> None:
    url = database_factory(backend, "schema")
    migrate(url)
    migrate(url)  # idempotent
    opts = {"compare_type": False, "include_name": _not_a_partition}

    async def diff() -> list[tuple[str, object]]:
        db = Database.from_url(url, pool_size=1)
        try:
            async with db.engine.connect() as conn:
                return await conn.run_sync(
                    lambda sync: compare_metadata(
                        MigrationContext.configure(sync, opts=opts), metadata
                    )
                )
        finally:
            await db.dispose()

    changes = {(kind, getattr(what, "name", what)) for kind, what in asyncio.run(diff())}
    assert changes == (PARTITIONED_LAYOUT if backend == "postgres" else set())


async def test_docs_are_served_from_local_assets(svc: Service) -> None:
    for path in ("/docs", "/redoc"):
        page = await svc.client.get(path)
        assert page.status_code == 200
        assert "/static/docs/" in page.text
        assert re.search(r"(src|href)=[\"']https?://", page.text) is None, page.text
        for asset in re.findall(r"/static/docs/[\w.-]+", page.text):
            response = await svc.client.get(asset)
            assert response.status_code == 200, asset
            assert len(response.content) > 100
    schema = (await svc.client.get("/openapi.json")).json()
    settle = schema["paths"]["/v1/settlements"]["post"]
    assert {"201", "200", "409", "422", "503"} <= set(settle["responses"])
    request = schema["components"]["schemas"]["SettleRequest"]
    assert request["examples"][0]["visit"]["type"] == "inpatient"
    assert "BillOut" in schema["components"]["schemas"]
    assert schema["components"]["securitySchemes"]


async def test_health_and_readiness(svc: Service) -> None:
    assert (await svc.client.get("/healthz")).status_code == 200
    ready = await svc.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["database"] == "ok"
    assert ready.json()["checks"]["registry"] == "ok"


async def test_not_ready_while_the_registry_is_down(svc: Service) -> None:
    svc.registry.mode = "down"
    ready = await svc.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["registry"].startswith("failed")
    assert ready.json()["checks"]["database"] == "ok"
    # Liveness does not depend on the registry.
    assert (await svc.client.get("/healthz")).status_code == 200


async def test_unreachable_database_is_503_not_500() -> None:
    from tests.settlement.conftest import start_service

    service, lifespan = await start_service(
        f"postgresql://postgres@127.0.0.1:{_closed_port()}/nowhere", "postgres"
    )
    try:
        person = service.registry.add("370305198001011237", "dibao")
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        created = await service.client.post(
            "/v1/hospitals",
            json={"code": "HX", "name": "x", "level": 2, "region_code": "370305"},
            headers=headers,
        )
        assert created.status_code == 503, created.text
        assert created.headers["retry-after"]
        assert created.headers["content-type"].startswith("application/problem+json")
        from tests.settlement.conftest import bill_body

        settle = await service.client.post(
            "/v1/settlements",
            json=bill_body(person),
            headers={"Authorization": "Bearer mk_some-key", "Idempotency-Key": "k"},
        )
        assert settle.status_code == 503
        ready = await service.client.get("/readyz")
        assert ready.status_code == 503
    finally:
        await service.client.aclose()
        await lifespan.__aexit__(None, None, None)


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
