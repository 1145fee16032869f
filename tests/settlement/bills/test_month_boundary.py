"""The books across a month boundary: a bill on the local 31 January (23:59), one on 1 February
(00:00:30 local, still 31 January in UTC) and the first revoked on 2 March. Reconciliation and
the fund report give the same answers on SQLite and on PostgreSQL, where the rows first land
in the DEFAULT partition (no partition for those months yet) and then, once the months are
created, in ``bills_2026_01``, ``bills_2026_02`` and ``bills_2026_03``."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

import settlement.settlements.service as settlements_service
from settlement.bills.partitions import ensure_months
from tests.settlement.admin.conftest import Hospital, Service, new_id_number, unique
from tests.settlement.books.helpers import detail, report, summary
from tests.support.data import inpatient_items

JAN_31, FEB_1, MAR_2 = date(2026, 1, 31), date(2026, 2, 1), date(2026, 3, 2)
AMOUNTS = ("medfee_sumamt", "fund_pay_sumamt", "psn_cash_pay")


def at(moment: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    """The service's clock reads ``moment`` (UTC) from now on."""
    monkeypatch.setattr(settlements_service, "utcnow", lambda: moment)


async def settle(svc: Service, hospital: Hospital, patient: str, seed: int) -> dict[str, Any]:
    body = {
        "patient": {"id_number": patient, "name": "张三"},
        "visit": {
            "visit_id": unique("VM"),
            "type": "inpatient",
            "admitted_on": "2026-01-20",
            "discharged_on": "2026-01-26",
            "diagnoses": ["J18.900"],
        },
        "items": inpatient_items(random.Random(seed), 8),
    }
    response = await svc.client.post(
        "/v1/settlements", json=body, headers=hospital.headers(unique("idem-month"))
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def totals(*records: dict[str, Any], sign: int = 1) -> dict[str, Any]:
    return {
        "setl_cnt": len(records),
        **{k: str(sign * sum(Decimal(r[k]) for r in records)) for k in AMOUNTS},
    }


def book(bill: dict[str, Any], patient: str, **changes: Any) -> dict[str, Any]:
    row = {
        "setl_id": bill["setl_id"],
        "visit_id": bill["visit_id"],
        "id_number": patient,
        "medfee_sumamt": bill["medfee_sumamt"],
        "fund_pay_sumamt": bill["fund_pay_sumamt"],
        "status": "settled",
        "refd_setl_flag": 0,
    }
    return {**row, **changes}


async def the_books(
    svc: Service, hospital: Hospital, first: dict[str, Any], second: dict[str, Any]
) -> list[Any]:
    """Every figure the test compares: summaries of each day, across the boundary and over
    the three months, and the fund report by hospital and by day."""
    code = hospital.code
    answers: list[Any] = []
    for begin, end, expected in (
        (JAN_31, JAN_31, totals(first)),
        (FEB_1, FEB_1, totals(second)),
        (JAN_31, FEB_1, totals(first, second)),
        (MAR_2, MAR_2, totals(first, sign=-1)),
        (date(2026, 1, 1), date(2026, 3, 31), {**totals(second), "setl_cnt": 3}),
    ):
        result = await summary(svc.client, code, begin, end, expected)
        assert result["matched"] is True, (begin, end, result)
        answers.append({k: result[k] for k in ("service", "matched")})
    by_hospital = await report(svc.client, JAN_31, MAR_2, "hospital")
    (mine,) = [row for row in by_hospital["rows"] if row["key"] == code]
    assert (mine["bill_count"], mine["reversal_count"]) == (3, 1)
    assert Decimal(mine["amounts"]["medfee_sumamt"]) == Decimal(second["medfee_sumamt"])
    by_day = await report(svc.client, JAN_31, MAR_2, "day")
    days = {row["key"]: row for row in by_day["rows"]}
    assert {day: days[day]["bill_count"] for day in ("2026-01-31", "2026-02-01", "2026-03-02")} == {
        "2026-01-31": 1,
        "2026-02-01": 1,
        "2026-03-02": 1,
    }
    return [*answers, mine, by_day]


async def test_books_across_a_month_boundary(svc: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    hospital = await svc.hospital()
    patients = [new_id_number() for _ in range(2)]
    at(datetime(2026, 1, 31, 15, 59, 0, tzinfo=UTC), monkeypatch)  # 23:59 local (UTC+8)
    first = await settle(svc, hospital, patients[0], 1)
    at(datetime(2026, 1, 31, 16, 0, 30, tzinfo=UTC), monkeypatch)  # 00:00:30 local, 1 Feb
    second = await settle(svc, hospital, patients[1], 2)
    assert (first["setl_date"], second["setl_date"]) == ("2026-01-31", "2026-02-01")
    at(datetime(2026, 3, 2, 2, 0, tzinfo=UTC), monkeypatch)
    response = await svc.client.post(
        f"/v1/settlements/{first['setl_id']}/revoke", headers=hospital.headers()
    )
    assert response.status_code == 200, response.text
    revoked = response.json()
    reversal_id = revoked["reversal"]["setl_id"]

    answers = await the_books(svc, hospital, first, second)
    books = [book(first, patients[0]), book(second, patients[1])]
    across = await detail(svc.client, hospital.code, JAN_31, FEB_1, books)
    assert across["matched"] is True, across
    march = await detail(
        svc.client,
        hospital.code,
        MAR_2,
        MAR_2,
        [
            book(
                first,
                patients[0],
                setl_id=reversal_id,
                status="revoked",
                refd_setl_flag=1,
                **{k: f"{-Decimal(first[k]):.2f}" for k in ("medfee_sumamt", "fund_pay_sumamt")},
            )
        ],
    )
    assert march["matched"] is True, march
    if svc.backend != "postgres":
        return

    db = svc.app.state.ctx.db
    ids = {first["setl_id"]: "2026_01", second["setl_id"]: "2026_02", reversal_id: "2026_03"}

    async def partitions() -> dict[str, str]:
        async with db.read() as conn:
            rows = await conn.execute(
                text(
                    "SELECT setl_id, tableoid::regclass::text AS part FROM bills "
                    "WHERE setl_id = ANY(:ids)"
                ),
                {"ids": list(ids)},
            )
            return {row.setl_id: row.part for row in rows}

    # No partition of those months yet: the rows went to the DEFAULT partition.
    assert await partitions() == dict.fromkeys(ids, "bills_default")
    created = await ensure_months(db, date(2026, 1, 15), ahead=0)
    assert {"bills_2026_01", "bills_2026_02", "bills_2026_03"} <= set(created)
    assert await partitions() == {setl_id: f"bills_{month}" for setl_id, month in ids.items()}
    # The same books from the month partitions.
    assert await the_books(svc, hospital, first, second) == answers
    assert (await detail(svc.client, hospital.code, JAN_31, FEB_1, books))["matched"] is True
