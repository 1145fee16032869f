"""Fixtures of the supervision tests: the settlement app on databases of its own (the
outlier medians and the monthly view see only these tests' bills), with the shipped rules
or a rules file of the test's, and bill builders with chosen dates and diagnoses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.settlement.conftest import (
    BACKENDS,
    Hospital,
    Service,
    admin_headers,
    local_today,
    make_id_number,
    migrate,
    start_service,
    unique,
)

TODAY = local_today()  # the books' today (setl_date)


def days_ago(n: int) -> str:
    return (TODAY - timedelta(days=n)).isoformat()


def stay(
    id_number: str,
    admitted: str,
    discharged: str,
    *,
    diagnosis: str = "J18.900",
    items: list[dict[str, Any]] | None = None,
    visit_id: str | None = None,
) -> dict[str, Any]:
    """An inpatient settle request with the given dates and main diagnosis."""
    return {
        "patient": {"id_number": id_number, "name": "张三"},
        "visit": {
            "visit_id": visit_id or unique("ZY"),
            "type": "inpatient",
            "admitted_on": admitted,
            "discharged_on": discharged,
            "diagnoses": [diagnosis],
        },
        "items": items
        or [{"code": "330100", "name": "手术费", "category": "A", "unit_price": "3000.00",
             "quantity": 1}],
    }  # fmt: skip


def outpatient(id_number: str, day: str, amount: str = "120.00") -> dict[str, Any]:
    return {
        "patient": {"id_number": id_number, "name": "李四"},
        "visit": {"visit_id": unique("MZ"), "type": "outpatient", "admitted_on": day},
        "items": [
            {"code": "110100", "name": "门诊诊查费", "category": "A", "unit_price": amount,
             "quantity": 1}
        ],
    }  # fmt: skip


async def settled(svc: Service, hospital: Hospital, body: dict[str, Any]) -> dict[str, Any]:
    response = await svc.client.post(
        "/v1/settlements", json=body, headers=hospital.headers(unique("K"))
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def rule_codes(bill: dict[str, Any]) -> list[str]:
    return [flag["rule"] for flag in bill["flags"]]


def person(svc: Service, *categories: str) -> str:
    return svc.registry.add(make_id_number(), *categories)


async def flags(svc: Service, **query: str) -> list[dict[str, Any]]:
    params = {"from": days_ago(1), "to": TODAY.isoformat(), **query}
    response = await svc.client.get("/v1/supervision/flags", params=params, headers=admin_headers())
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


_pool: dict[str, tuple[Service, Any]] = {}


@pytest.fixture(scope="session")
async def _supervision_pool() -> AsyncIterator[dict[str, tuple[Service, Any]]]:
    yield _pool
    for service, lifespan in _pool.values():
        await service.client.aclose()
        await lifespan.__aexit__(None, None, None)
    _pool.clear()


async def service_for(
    key: str,
    backend: str,
    database_factory: Callable[[str, str], str],
    pool: dict[str, tuple[Service, Any]],
    **overrides: Any,
) -> Service:
    """An app of its own (database and settings) per ``key``, kept for the session."""
    if key not in pool:

        def make() -> str:
            url = database_factory(backend, key.replace("-", "_"))
            migrate(url)
            return url

        url = await asyncio.to_thread(make)
        # The background refresh stays off: tests refresh the medians when they mean to.
        overrides.setdefault("supervision_refresh_s", 0)
        pool[key] = await start_service(url, backend, **overrides)
    service = pool[key][0]
    service.registry.mode = "ok"
    return service


@pytest.fixture(params=BACKENDS)
async def svc(
    request: pytest.FixtureRequest,
    database_factory: Callable[[str, str], str],
    _supervision_pool: dict[str, tuple[Service, Any]],
) -> Service:
    """The app with the shipped rules, on SQLite and on PostgreSQL."""
    backend: str = request.param
    return await service_for(f"supervision-{backend}", backend, database_factory, _supervision_pool)


@pytest.fixture
def rules_app(
    request: pytest.FixtureRequest,
    database_factory: Callable[[str, str], str],
    _supervision_pool: dict[str, tuple[Service, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str, str, str], Any]:
    """``await rules_app(name, backend, toml)``: an app with a rules file of its own."""

    async def make(name: str, backend: str, text: str) -> Service:
        key = f"rules-{name}-{backend}"
        path: Path = tmp_path_factory.mktemp(key) / "rules.toml"
        path.write_text(text, encoding="utf-8")
        return await service_for(
            key, backend, database_factory, _supervision_pool, supervision_rules=path
        )

    return make
