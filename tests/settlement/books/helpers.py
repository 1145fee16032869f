"""The settlement app for the books tests: started on a database with settings, stopped and
started again (as a restart with another time zone would), and the figures of a period read
through the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from settlement.app import create_app
from settlement.engine import PolicySet, default_policy_dir
from tests.settlement.admin.conftest import FakeRegistry, admin_headers, settings_for

GROUPINGS = ("hospital", "fund", "aid_class", "region", "day")


@asynccontextmanager
async def running(
    url: str, registry: FakeRegistry, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The app on ``url`` (already migrated) for the duration of the block."""
    app = create_app(settings_for(url, **settings), registry_transport=registry.transport())
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://settlement.test", timeout=120
        ) as client:
            yield client


def policy_text(on: date) -> str:
    policy = PolicySet.from_dir(default_policy_dir()).for_date(on)
    return (default_policy_dir() / policy.source).read_text(encoding="utf-8")


async def summary(
    client: httpx.AsyncClient,
    hospital_code: str,
    begin: date,
    end: date,
    totals: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A summary reconciliation (admin token) with the hospital's totals (zero if None)."""
    body = {
        "begin_date": begin.isoformat(),
        "end_date": end.isoformat(),
        "hospital_code": hospital_code,
        "medfee_sumamt": "0.00",
        "fund_pay_sumamt": "0.00",
        "psn_cash_pay": "0.00",
        "setl_cnt": 0,
        **(totals or {}),
    }
    response = await client.post("/v1/reconciliations/summary", json=body, headers=admin_headers())
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def report(
    client: httpx.AsyncClient, begin: date, end: date, group_by: str, *, csv: bool = False
) -> Any:
    response = await client.get(
        "/v1/reports/funds",
        params={"from": begin.isoformat(), "to": end.isoformat(), "group_by": group_by},
        headers={**admin_headers(), **({"Accept": "text/csv"} if csv else {})},
    )
    assert response.status_code == 200, response.text
    return response.text if csv else response.json()


async def detail(
    client: httpx.AsyncClient,
    hospital_code: str,
    begin: date,
    end: date,
    books: list[dict[str, Any]],
) -> dict[str, Any]:
    response = await client.post(
        "/v1/reconciliations/detail",
        json={
            "begin_date": begin.isoformat(),
            "end_date": end.isoformat(),
            "hospital_code": hospital_code,
            "bills": books,
        },
        headers=admin_headers(),
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def simulate(client: httpx.AsyncClient, policy: str, begin: date, end: date) -> Any:
    response = await client.post(
        "/v1/policies/simulate",
        json={"policy": policy, "from": begin.isoformat(), "to": end.isoformat()},
        headers=admin_headers(),
    )
    assert response.status_code == 200, response.text
    return response.json()


def money(value: str) -> Decimal:
    return Decimal(value)
