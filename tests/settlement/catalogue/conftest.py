"""Fixtures of the catalogue tests: the settlement app on databases of their own (per
backend), so a loaded catalogue never reaches the other suites' bills; CSV builders."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import httpx
import pytest

from tests.settlement.conftest import (
    BACKENDS,
    Hospital,
    Service,
    admin_headers,
    migrate,
    start_service,
)

CATALOGUE_HEADER = (
    "med_list_codg,med_list_name,chrgitm_lv,selfpay_prop,pric_uplmt_amt,begndate,enddate"
)
MAPPING_HEADER = "medins_list_codg,med_list_codg"

_serial = itertools.count(1)


def code(prefix: str = "XT") -> str:
    """A national code no other test uses."""
    return f"{prefix}{next(_serial):07d}A001"


def catalogue_csv(rows: Sequence[Sequence[str]], *, bom: bool = False) -> bytes:
    """A catalogue file: the header, then ``rows`` (7 cells each)."""
    text = "\n".join([CATALOGUE_HEADER, *(",".join(r) for r in rows)]) + "\n"
    return (("\ufeff" if bom else "") + text).encode("utf-8")


def mapping_csv(rows: Sequence[tuple[str, str]]) -> bytes:
    return ("\n".join([MAPPING_HEADER, *(f"{a},{b}" for a, b in rows)]) + "\n").encode("utf-8")


CSV = {"Content-Type": "text/csv"}


async def import_catalogue(
    svc: Service, data: bytes, *, dry_run: bool = False, expect: int = 200
) -> dict[str, Any]:
    response = await svc.client.post(
        "/v1/catalogue/imports",
        content=data,
        params={"dry_run": "true"} if dry_run else None,
        headers={**admin_headers(), **CSV},
    )
    assert response.status_code == expect, response.text
    body: dict[str, Any] = response.json()
    return body


async def import_mapping(
    svc: Service, hospital: Hospital, rows: Sequence[tuple[str, str]], *, expect: int = 200
) -> dict[str, Any]:
    response = await svc.client.post(
        "/v1/catalogue/mappings", content=mapping_csv(rows), headers={**hospital.headers(), **CSV}
    )
    assert response.status_code == expect, response.text
    body: dict[str, Any] = response.json()
    return body


def line(
    code: str, name: str, category: str, price: str, quantity: Any = 1, **extra: Any
) -> dict[str, Any]:
    """A fee line as a HIS sends it."""
    return {
        "code": code,
        "name": name,
        "category": category,
        "unit_price": price,
        "quantity": quantity,
        **extra,
    }


_services: dict[str, tuple[Service, Any]] = {}


@pytest.fixture(scope="session")
async def _catalogue_pool() -> AsyncIterator[dict[str, tuple[Service, Any]]]:
    yield _services
    for service, lifespan in _services.values():
        await service.client.aclose()
        await lifespan.__aexit__(None, None, None)
    _services.clear()


@pytest.fixture(params=BACKENDS)
async def cat_svc(
    request: pytest.FixtureRequest,
    database_factory: Callable[[str, str], str],
    _catalogue_pool: dict[str, tuple[Service, Any]],
) -> Service:
    """The app on a database of the catalogue tests (one per backend, shared by them: each
    test uses codes of its own), with a catalogue loaded by the tests."""
    backend: str = request.param
    if backend not in _catalogue_pool:
        url = await asyncio.to_thread(database_factory, backend, "catalogue")
        await asyncio.to_thread(migrate, url)
        _catalogue_pool[backend] = await start_service(url, backend)
    service = _catalogue_pool[backend][0]
    service.registry.mode = "ok"
    return service


@pytest.fixture(params=BACKENDS)
async def fresh_svc(
    request: pytest.FixtureRequest, database_factory: Callable[[str, str], str]
) -> AsyncIterator[Service]:
    """The app on a new, empty database (no catalogue), for this test only."""
    backend: str = request.param
    url = await asyncio.to_thread(database_factory, backend, "catalogue_fresh")
    await asyncio.to_thread(migrate, url)
    service, lifespan = await start_service(url, backend)
    try:
        yield service
    finally:
        await service.client.aclose()
        await lifespan.__aexit__(None, None, None)


async def lines_of(
    client: httpx.AsyncClient, hospital: Hospital, setl_id: str
) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/settlements/{setl_id}", headers=hospital.headers())
    assert response.status_code == 200, response.text
    lines: list[dict[str, Any]] = response.json()["lines"]
    return lines
