"""Creates, migrates and seeds the fuzzed apps' databases for the run; drops them after."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from schemathesis.python import asgi

from tests.conftest import _admin, postgres_admin_dsn
from tests.fuzz import targets
from tests.support.apps import SETTLEMENT_ADMIN_TOKEN, migrate


@pytest.fixture(scope="session", autouse=True)
def fuzz_databases() -> Iterator[None]:
    dsn = postgres_admin_dsn()
    created = []
    for service, url in targets.DATABASES.items():
        if dsn:
            name = url.rpartition("/")[2]
            _admin(dsn, f'CREATE DATABASE "{name}"')
            created.append(name)
        migrate(service, url)
    try:
        yield
    finally:
        # Stop the apps' lifespans (their pools) before the databases go away.
        with contextlib.suppress(Exception):
            asgi.shutdown_lifespans()
        for name in created:
            _admin(dsn or "", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def hospital_key(fuzz_databases: None) -> str:
    """The API key of a hospital registered in the fuzzed settlement app."""
    if "hospital" not in targets.HOSPITAL_KEYS:
        from tests.fuzz.test_settlement_api import app

        with asgi.get_client(app) as client:
            response = client.post(
                "/v1/hospitals",
                headers={"Authorization": f"Bearer {SETTLEMENT_ADMIN_TOKEN}"},
                json={
                    "code": "HF0001",
                    "name": "模糊测试医院",
                    "level": 3,
                    "region_code": "370305",
                },
            )
            assert response.status_code == 201, response.text
            targets.HOSPITAL_KEYS["hospital"] = response.json()["api_key"]
    return targets.HOSPITAL_KEYS["hospital"]
