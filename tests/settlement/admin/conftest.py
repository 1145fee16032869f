"""Fixtures of the administrators' side: the settlement app on SQLite and PostgreSQL with a
stand-in registry, hospitals, patients and settled bills."""

from __future__ import annotations

import asyncio
import itertools
import random
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from settlement.app import create_app
from settlement.cli import MIGRATIONS
from settlement.config import Settings
from shared.db import run_migrations
from tests.support.data import id_number, inpatient_items

ADMIN_TOKEN = "admin-side-admin-token-0123456789"
REGISTRY_TOKEN = "admin-side-registry-token-012345"
RECEIPT_SECRET = "admin-side-receipt-secret-012345"
REGISTRY_URL = "http://registry.admin.test"
LOCAL_OFFSET = timedelta(hours=8)
BACKENDS = [pytest.param("sqlite", id="sqlite"), pytest.param("postgres", id="postgres")]

_serial = itertools.count(1)
_ELIGIBILITY = re.compile(r"/v1/persons/([0-9Xx]{18})/eligibility")


_stays: dict[str, int] = {}


def unique(prefix: str) -> str:
    return f"{prefix}{next(_serial):06d}"


def new_id_number() -> str:
    """A valid ID number no other suite uses."""
    return id_number(640_000 + next(_serial))


def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def settings_for(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": url,
        "admin_token": ADMIN_TOKEN,
        "registry_url": REGISTRY_URL,
        "registry_token": REGISTRY_TOKEN,
        "receipt_secret": RECEIPT_SECRET,
        "eligibility_ttl_s": 0,
    }
    values.update(overrides)
    return Settings(**values)


def settings_env(url: str) -> dict[str, str]:
    """The same settings as environment variables (for the CLI)."""
    return {
        "SETTLEMENT_ENV": "test",
        "SETTLEMENT_DATABASE_URL": url,
        "SETTLEMENT_ADMIN_TOKEN": ADMIN_TOKEN,
        "SETTLEMENT_REGISTRY_URL": REGISTRY_URL,
        "SETTLEMENT_REGISTRY_TOKEN": REGISTRY_TOKEN,
        "SETTLEMENT_RECEIPT_SECRET": RECEIPT_SECRET,
    }


@dataclass
class FakeRegistry:
    """Eligibility answers from a dict: id number → categories; anyone else is a 404."""

    persons: dict[str, list[str]] = field(default_factory=dict)

    def handler(self, request: httpx.Request) -> httpx.Response:
        match = _ELIGIBILITY.search(request.url.path)
        number = match.group(1).upper() if match else ""
        if request.headers.get("authorization") != f"Bearer {REGISTRY_TOKEN}":
            return httpx.Response(401, json={"status": 401, "title": "Unauthorized"})
        if number not in self.persons:
            return httpx.Response(
                404,
                json={"type": "about:blank", "title": "Not Found", "status": 404},
                headers={"content-type": "application/problem+json"},
            )
        return httpx.Response(
            200,
            json={
                "id_number_masked": number[:6] + "********" + number[-4:],
                "name": "测试",
                "household_code": "HH0001",
                "region_code": number[:6],
                "categories": self.persons[number],
                "registered": True,
                "on": request.url.params.get("on", date.today().isoformat()),
            },
        )

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)


@dataclass(frozen=True)
class Hospital:
    code: str
    key: str
    level: int
    region_code: str

    def headers(self, idempotency_key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.key}"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return headers


def local_day(bill: dict[str, Any]) -> date:
    """The settlement date of a bill (local time, UTC+8, as the service computes it)."""
    moment = datetime.fromisoformat(bill["setl_time"].replace("Z", "+00:00"))
    return (moment.astimezone(UTC) + LOCAL_OFFSET).date()


@dataclass
class Service:
    backend: str
    url: str
    client: httpx.AsyncClient
    registry: FakeRegistry
    app: Any

    async def hospital(self, level: int = 2, region_code: str = "370305") -> Hospital:
        code = unique("AH")
        response = await self.client.post(
            "/v1/hospitals",
            json={"code": code, "name": f"医院 {code}", "level": level, "region_code": region_code},
            headers=admin_headers(),
        )
        assert response.status_code == 201, response.text
        return Hospital(code, response.json()["api_key"], level, region_code)

    def patient(self, *categories: str) -> str:
        number = new_id_number()
        if categories:
            self.registry.persons[number] = list(categories)
        return number

    async def settle(
        self,
        hospital: Hospital,
        patient: str,
        *,
        seed: int | None = None,
        items: list[dict[str, Any]] | None = None,
        visit_type: str = "inpatient",
    ) -> dict[str, Any]:
        today = date.today()
        admitted = today - timedelta(days=12)
        discharged = today - timedelta(days=2)
        if admitted.year != discharged.year:  # keep a visit inside one year
            admitted = discharged
        # A patient's further stays are single nights before the first: a person is in one
        # stay at a time.
        earlier = _stays.get(patient, 0)
        _stays[patient] = earlier + 1
        if earlier and visit_type == "inpatient":
            discharged = admitted - timedelta(days=earlier - 1)
            admitted = discharged - timedelta(days=1)
        visit: dict[str, Any] = {
            "visit_id": unique("V"),
            "type": visit_type,
            "admitted_on": admitted.isoformat(),
            "diagnoses": ["J18.900"],
        }
        if visit_type == "inpatient":
            visit["discharged_on"] = discharged.isoformat()
        body = {
            "patient": {"id_number": patient, "name": "张三"},
            "visit": visit,
            "items": items
            if items is not None
            else inpatient_items(random.Random(seed or next(_serial)), 12),
        }
        response = await self.client.post(
            "/v1/settlements", json=body, headers=hospital.headers(unique("idem"))
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def revoke(self, hospital: Hospital, setl_id: str) -> dict[str, Any]:
        response = await self.client.post(
            f"/v1/settlements/{setl_id}/revoke", headers=hospital.headers()
        )
        assert response.status_code == 200, response.text
        return dict(response.json())


def migrate(url: str) -> None:
    run_migrations(MIGRATIONS, url)


async def start_service(url: str, backend: str) -> tuple[Service, Any]:
    registry = FakeRegistry()
    app = create_app(settings_for(url), registry_transport=registry.transport())
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://settlement.test", timeout=120
    )
    return Service(backend, url, client, registry, app), lifespan


_pool: dict[str, tuple[Service, Any]] = {}


@pytest.fixture(scope="session")
async def _admin_pool() -> AsyncIterator[dict[str, tuple[Service, Any]]]:
    yield _pool
    for service, lifespan in _pool.values():
        await service.client.aclose()
        await lifespan.__aexit__(None, None, None)
    _pool.clear()


async def _service(
    key: str,
    backend: str,
    database_factory: Callable[[str, str], str],
    pool: dict[str, tuple[Service, Any]],
) -> Service:
    if key not in pool:

        def make() -> str:
            url = database_factory(backend, key.replace("-", "_"))
            migrate(url)
            return url

        url = await asyncio.to_thread(make)
        pool[key] = await start_service(url, backend)
    return pool[key][0]


@pytest.fixture(params=BACKENDS)
async def svc(
    request: pytest.FixtureRequest,
    database_factory: Callable[[str, str], str],
    _admin_pool: dict[str, tuple[Service, Any]],
) -> Service:
    """The app on SQLite and on PostgreSQL, shared by the suite (tests make their own
    hospitals and patients)."""
    backend: str = request.param
    return await _service(f"admin-{backend}", backend, database_factory, _admin_pool)


@pytest.fixture(params=BACKENDS)
async def sim_svc(
    request: pytest.FixtureRequest,
    database_factory: Callable[[str, str], str],
    _admin_pool: dict[str, tuple[Service, Any]],
) -> Service:
    """A separate app and database per backend for the policy simulation, so its period holds
    only the simulation tests' bills."""
    backend: str = request.param
    return await _service(f"sim-{backend}", backend, database_factory, _admin_pool)
