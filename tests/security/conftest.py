"""Both services in-process over migrated databases (PostgreSQL when available), the registry
mocked for the settlement service, two hospitals with their keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.conftest import DatabaseFactory
from tests.support.apps import (
    SETTLEMENT_ADMIN_TOKEN,
    database,
    registry_app,
    settlement_app,
)
from tests.support.data import Patient, make_patients

MAX_BODY = 64 * 1024


@dataclass
class Service:
    app: Any
    client: httpx.AsyncClient
    database_url: str


@dataclass
class Settlement(Service):
    keys: dict[str, str]  # hospital code → API key
    patients: list[Patient]


async def _serve(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


@pytest_asyncio.fixture(scope="module")
async def registry(database_factory: DatabaseFactory) -> AsyncIterator[Service]:
    url = database(database_factory, "security_registry")
    app = registry_app(
        url, REGISTRY_MAX_BODY_BYTES=str(MAX_BODY), REGISTRY_MAX_IMPORT_BYTES=str(MAX_BODY)
    )
    async for client in _serve(app):
        yield Service(app, client, url)


@pytest_asyncio.fixture(scope="module")
async def settlement(database_factory: DatabaseFactory) -> AsyncIterator[Settlement]:
    url = database(database_factory, "security_settlement")
    patients = make_patients(20, seed=3, start=700_000, unregistered_share=0.0)
    app = settlement_app(
        url,
        patients,
        SETTLEMENT_MAX_BODY_BYTES=str(MAX_BODY),
        SETTLEMENT_MAX_RECONCILIATION_BYTES=str(MAX_BODY),
        SETTLEMENT_MAX_CATALOGUE_BYTES=str(MAX_BODY),
    )
    async for client in _serve(app):
        keys = {}
        for code in ("HA0001", "HB0002"):
            response = await client.post(
                "/v1/hospitals",
                headers={"Authorization": f"Bearer {SETTLEMENT_ADMIN_TOKEN}"},
                json={
                    "code": code,
                    "name": f"医院 {code}",
                    "level": 2,
                    "region_code": "370305",
                },
            )
            assert response.status_code == 201, response.text
            keys[code] = response.json()["api_key"]
        yield Settlement(app, client, url, keys, patients)


@pytest.fixture(params=["registry", "settlement"])
def service(request: pytest.FixtureRequest) -> tuple[str, Service]:
    """Each service in turn: ``(name, service)``."""
    return request.param, request.getfixturevalue(request.param)
