"""Fixtures of the settlement service tests: a migrated database per backend, the app with a
respx-mocked registry, hospitals, patients and bill builders."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from settlement.app import create_app
from settlement.cli import MIGRATIONS
from settlement.config import Settings
from shared.db import run_migrations
from shared.idnumber import check_character, mask_id_number

ADMIN_TOKEN = "test-admin-token-0123456789abcdef"
REGISTRY_TOKEN = "test-registry-token-0123456789abcdef"
RECEIPT_SECRET = "test-receipt-secret-0123456789abcdef"
REGISTRY_URL = "http://registry.test"
BACKENDS = [pytest.param("sqlite", id="sqlite"), pytest.param("postgres", id="postgres")]

_serial = itertools.count(1)


def local_today() -> date:
    """Today in the service's zone (``Settings.utc_offset_hours``, UTC+8 by default): the day
    the books give a bill settled now (``setl_date``), and the day the flags, the reports and
    the partitions go by. For eight hours of every UTC day it is the machine's tomorrow, so a
    test that compares with the books' dates takes its "today" from here, not
    ``date.today()``."""
    offset = timedelta(hours=Settings.model_fields["utc_offset_hours"].default)
    return datetime.now(timezone(offset)).date()


def make_id_number(born: str = "19800101", area: str = "370305") -> str:
    """A fresh valid ID number (unique within the test run)."""
    n = next(_serial)
    # Vary the birth day with the serial so more than 1,000 people can be made.
    day = 1 + (n // 1000) % 28
    first17 = f"{area}{born[:6]}{day:02d}{n % 1000:03d}"
    return first17 + check_character(first17)


VALID_ID = "370305198001011237"
"""A fixed valid ID number, for requests refused before anyone is looked up."""


def unique(prefix: str) -> str:
    return f"{prefix}{next(_serial):06d}"


def settings_for(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": url,
        "admin_token": ADMIN_TOKEN,
        "registry_url": REGISTRY_URL,
        "registry_token": REGISTRY_TOKEN,
        "receipt_secret": RECEIPT_SECRET,
        "eligibility_ttl_s": 0,
        "hospital_cache_ttl_s": 30,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class FakeRegistry:
    """The registry's eligibility endpoint, served by a respx router."""

    persons: dict[str, list[str]] = field(default_factory=dict)
    mode: str = "ok"  # ok | down | error
    calls: list[httpx.Request] = field(default_factory=list)
    router: respx.Router = field(init=False)

    def __post_init__(self) -> None:
        self.router = respx.Router(base_url=REGISTRY_URL, assert_all_called=False)
        self.router.get(path__regex=r"^/v1/persons/(?P<id_number>[^/]+)/eligibility$").mock(
            side_effect=self._answer
        )
        self.router.get(path="/readyz").mock(side_effect=self._ready)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.router.async_handler)

    def add(self, id_number: str, *categories: str) -> str:
        self.persons[id_number] = list(categories)
        return id_number

    def _ready(self, request: httpx.Request) -> httpx.Response:
        if self.mode == "down":
            raise httpx.ConnectError("connection refused", request=request)
        if self.mode == "error":
            return httpx.Response(503, json={"title": "not ready"})
        return httpx.Response(200, json={"status": "ready"})

    def _answer(self, request: httpx.Request, id_number: str) -> httpx.Response:
        self.calls.append(request)
        if self.mode == "down":
            raise httpx.ConnectError("connection refused", request=request)
        if self.mode == "error":
            return httpx.Response(500, json={"title": "boom"})
        if request.headers.get("authorization") != f"Bearer {REGISTRY_TOKEN}":
            return httpx.Response(401, json={"title": "Unauthorized"})
        on = request.url.params.get("on", date.today().isoformat())
        if id_number not in self.persons:
            return httpx.Response(
                404,
                json={"type": "about:blank", "title": "Not Found", "status": 404},
                headers={"content-type": "application/problem+json"},
            )
        return httpx.Response(
            200,
            json={
                "id_number_masked": mask_id_number(id_number),
                "name": "测试",
                "household_code": "HH0001",
                "region_code": "370305",
                "categories": self.persons[id_number],
                "registered": True,
                "on": on,
                # The categories are the person's on every date: an open span.
                "valid_from": None,
                "valid_to": None,
            },
        )


@dataclass
class Service:
    """A running app on one backend, with its client, fake registry and database URL."""

    backend: str
    url: str
    client: httpx.AsyncClient
    registry: FakeRegistry
    app: Any

    async def hospital(self, level: int = 2, code: str | None = None) -> Hospital:
        code = code or unique("H")
        response = await self.client.post(
            "/v1/hospitals",
            json={"code": code, "name": f"医院 {code}", "level": level, "region_code": "370305"},
            headers=admin_headers(),
        )
        assert response.status_code == 201, response.text
        return Hospital(code=code, key=response.json()["api_key"], level=level)


@dataclass(frozen=True)
class Hospital:
    code: str
    key: str
    level: int

    def headers(self, idempotency_key: str | None = None, **extra: str) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.key}", **extra}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return headers


def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


DEFAULT = object()
"""``discharged_on`` not given (``None`` given: the request has none)."""
_STAY_OF_VISIT: dict[str, tuple[str, str]] = {}
_STAYS_OF_PERSON: dict[str, int] = {}
FIRST_STAY = ("2026-03-02", "2026-03-12")


def stay_dates(id_number: str, visit_id: str) -> tuple[str, str]:
    """Inpatient dates for a visit when a test names none: a person's first stay is
    2026-03-02 → 03-12, each further one a night after the last (stays never overlap: a person
    is in one stay at a time); the same visit keeps its dates."""
    if visit_id not in _STAY_OF_VISIT:
        count = _STAYS_OF_PERSON.get(id_number, 0)
        _STAYS_OF_PERSON[id_number] = count + 1
        if count == 0:
            _STAY_OF_VISIT[visit_id] = FIRST_STAY
        else:
            start = date.fromisoformat(FIRST_STAY[1]) + timedelta(days=count - 1)
            _STAY_OF_VISIT[visit_id] = (start.isoformat(), (start + timedelta(days=1)).isoformat())
    return _STAY_OF_VISIT[visit_id]


def bill_body(
    id_number: str,
    *,
    visit_id: str | None = None,
    visit_type: str = "inpatient",
    admitted_on: str | None = None,
    discharged_on: str | None | object = DEFAULT,
    items: list[dict[str, Any]] | None = None,
    total: str | None = None,
) -> dict[str, Any]:
    """A settle request; ``total`` makes one category-A item of that amount. Without dates an
    inpatient visit gets :func:`stay_dates`, an outpatient visit 2026-03-02."""
    visit_id = visit_id or unique("V")
    if admitted_on is None and discharged_on is DEFAULT and visit_type == "inpatient":
        admitted_on, discharged_on = stay_dates(id_number, visit_id)
    admitted_on = admitted_on or FIRST_STAY[0]
    if discharged_on is DEFAULT:
        discharged_on = FIRST_STAY[1]
    if items is None:
        amount = total or "3000.00"
        items = [
            {
                "code": "310100001",
                "name": "床位费",
                "category": "A",
                "unit_price": amount,
                "quantity": 1,
            },
        ]
    visit: dict[str, Any] = {
        "visit_id": visit_id,
        "type": visit_type,
        "admitted_on": admitted_on,
        "diagnoses": ["J18.900"],
    }
    if discharged_on is not None:
        visit["discharged_on"] = discharged_on
    return {"patient": {"id_number": id_number, "name": "张三"}, "visit": visit, "items": items}


def standard_items() -> list[dict[str, Any]]:
    return [
        {
            "code": "310100001",
            "name": "床位费",
            "category": "A",
            "unit_price": "60.00",
            "quantity": 10,
        },
        {
            "code": "XJ01CAA",
            "name": "头孢呋辛注射液",
            "category": "B",
            "unit_price": "38.50",
            "quantity": "20",
            "self_pay_ratio": "0.10",
        },
        {
            "code": "250301",
            "name": "CT检查",
            "category": "A",
            "unit_price": 280,
            "quantity": 1,
            "price_cap": "250.00",
        },
        {
            "code": "Z0001",
            "name": "营养餐",
            "category": "C",
            "unit_price": "25.00",
            "quantity": 10,
            "amount": "250.00",
        },
    ]


MONEY_FIELDS = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "hifmi_pay",
    "maf_pay",
    "oth_pay",
    "fund_pay_sumamt",
    "psn_cash_pay",
)


def check_bill(bill: dict[str, Any]) -> dict[str, Decimal]:
    """The setlinfo invariants of a returned bill, to the fen; returns the amounts."""
    amounts = {}
    for name in MONEY_FIELDS:
        value = bill[name]
        assert isinstance(value, str), (name, value)
        assert value == f"{Decimal(value):.2f}", (name, value)
        amounts[name] = Decimal(value)
        assert amounts[name] >= 0, (name, value)
    assert amounts["medfee_sumamt"] == amounts["fund_pay_sumamt"] + amounts["psn_cash_pay"]
    detail_sum = sum((Decimal(row["fund_payamt"]) for row in bill["setldetail"]), Decimal(0))
    assert amounts["fund_pay_sumamt"] == detail_sum
    assert amounts["fund_pay_sumamt"] == (
        amounts["hifp_pay"] + amounts["hifmi_pay"] + amounts["maf_pay"] + amounts["oth_pay"]
    )
    for setlinfo_field in ("hifp_pay", "hifmi_pay", "maf_pay", "oth_pay"):
        rows = [r for r in bill["setldetail"] if r["setlinfo_field"] == setlinfo_field]
        assert sum((Decimal(r["fund_payamt"]) for r in rows), Decimal(0)) == amounts[setlinfo_field]
    for row in bill["setldetail"]:
        if row["crt_payb_lmt_amt"] is not None:
            assert Decimal(row["fund_payamt"]) <= Decimal(row["crt_payb_lmt_amt"])
    assert amounts["medfee_sumamt"] == (
        amounts["fulamt_ownpay_amt"]
        + amounts["overlmt_selfpay"]
        + amounts["preselfpay_amt"]
        + amounts["inscp_scp_amt"]
    )
    return amounts


def migrate(url: str) -> None:
    run_migrations(MIGRATIONS, url)


@pytest.fixture(scope="session")
def migrated_urls(database_factory: Callable[[str, str], str]) -> Callable[[str], str]:
    """``url(backend)``: one migrated database per backend for the session's API tests."""
    cache: dict[str, str] = {}

    def get(backend: str) -> str:
        if backend not in cache:
            url = database_factory(backend, "settlement")
            migrate(url)
            cache[backend] = url
        return cache[backend]

    return get


async def start_service(url: str, backend: str, **overrides: Any) -> tuple[Service, Any]:
    registry = FakeRegistry()
    app = create_app(settings_for(url, **overrides), registry_transport=registry.transport())
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://settlement.test", timeout=60
    )
    return Service(backend, url, client, registry, app), lifespan


_services: dict[str, tuple[Service, Any]] = {}


@pytest.fixture(scope="session")
async def _service_pool() -> AsyncIterator[dict[str, tuple[Service, Any]]]:
    yield _services
    for service, lifespan in _services.values():
        await service.client.aclose()
        await lifespan.__aexit__(None, None, None)
    _services.clear()


@pytest.fixture(params=BACKENDS)
async def svc(
    request: pytest.FixtureRequest,
    migrated_urls: Callable[[str], str],
    _service_pool: dict[str, tuple[Service, Any]],
) -> Service:
    """The settlement app on SQLite and on PostgreSQL (shared per session; tests use their
    own hospitals, visits and patients)."""
    backend: str = request.param
    if backend not in _service_pool:
        url = await asyncio.to_thread(migrated_urls, backend)
        _service_pool[backend] = await start_service(url, backend)
    service = _service_pool[backend][0]
    service.registry.mode = "ok"
    return service


@pytest.fixture
async def sqlite_svc(
    migrated_urls: Callable[[str], str], _service_pool: dict[str, tuple[Service, Any]]
) -> Service:
    """The app on SQLite only, for checks that do not depend on the backend (validation)."""
    if "sqlite" not in _service_pool:
        url = await asyncio.to_thread(migrated_urls, "sqlite")
        _service_pool["sqlite"] = await start_service(url, "sqlite")
    service = _service_pool["sqlite"][0]
    service.registry.mode = "ok"
    return service


def problem(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    body: dict[str, Any] = json.loads(response.text)
    return body


def fields_of(response: httpx.Response) -> list[str]:
    return [e["field"] for e in problem(response).get("errors") or []]


async def settle(
    svc: Service, hospital: Any, body: dict[str, Any], key: str | None = None, **headers: str
) -> Any:
    """``POST /v1/settlements`` as ``hospital``, under ``key`` (a fresh one by default)."""
    return await svc.client.post(
        "/v1/settlements", json=body, headers=hospital.headers(key or unique("K"), **headers)
    )


HERE = Path(__file__).parent


def without_link(bill: dict[str, Any]) -> dict[str, Any]:
    """A bill answer without its ``receipt_url``: each answer carries a fresh link (its own
    expiry), so two answers for one bill are equal apart from it. The link itself must name
    the bill."""
    url = bill.get("receipt_url")
    assert url is None or f"/v1/receipts/{bill['setl_id']}?token=" in url, url
    return {k: v for k, v in bill.items() if k != "receipt_url"}
