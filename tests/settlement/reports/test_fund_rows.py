"""The fund grouping reads ``bill_funds`` alone (the date and reversal flag its rows carry,
migration 0012). For random settles and revokes through the API its answer equals the one the
report gave before, from the fund rows joined with their bills, and moves by exactly the fund
rows of the new bills and reversals."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from settlement.database import AnyRow
from settlement.reports import repository
from settlement.reports.repository import bill_funds, bills, in_period
from tests.settlement.admin.conftest import Service, admin_headers

EVERYTHING = (date(2000, 1, 1), date(2099, 12, 31))
SYNTHETIC_MONTH = (date(2025, 3, 1), date(2025, 3, 31))  # tests/settlement/reports/synthetic.py


def joined_by_fund(begin: date, end: date) -> Any:
    """The fund grouping as it was before migration 0012: the fund rows joined with the
    period's bills."""
    return (
        select(
            bill_funds.c.fund_pay_type.label("key"),
            func.min(bill_funds.c.fund_pay_type_name).label("name"),
            func.count().label("bill_count"),
            func.coalesce(func.sum(bills.c.refd_setl_flag), 0).label("reversal_count"),
            func.sum(bill_funds.c.fund_payamt).label("fund_payamt"),
        )
        .select_from(bill_funds.join(bills, bills.c.setl_id == bill_funds.c.setl_id))
        .where(*in_period(begin, end))
        .group_by(bill_funds.c.fund_pay_type)
        .order_by(bill_funds.c.fund_pay_type)
    )


def _plain(rows: Sequence[AnyRow]) -> list[tuple[Any, ...]]:
    return [
        (r.key, r.name, int(r.bill_count), int(r.reversal_count), Decimal(r.fund_payamt))
        for r in rows
    ]


async def both_ways(svc: Service, begin: date, end: date) -> tuple[list[Any], list[Any]]:
    """(the report's fund grouping, the join), in one snapshot."""
    async with svc.app.state.ctx.db.snapshot() as conn:
        await repository.tune_for_aggregation(conn)
        now = _plain(await repository.by_fund(conn, begin, end))
        joined = _plain((await conn.execute(joined_by_fund(begin, end))).all())
    return now, joined


async def report_by_fund(svc: Service, day: date) -> dict[str, tuple[int, int, Decimal]]:
    """The API's fund grouping of one day: code → (rows, reversals, Σ fund_payamt)."""
    response = await svc.client.get(
        "/v1/reports/funds",
        params={"from": day.isoformat(), "to": day.isoformat(), "group_by": "fund"},
        headers=admin_headers(),
    )
    assert response.status_code == 200, response.text
    return {
        r["key"]: (r["bill_count"], r["reversal_count"], Decimal(r["amounts"]["fund_payamt"]))
        for r in response.json()["rows"]
    }


def _minus(a: tuple[int, int, Decimal], b: tuple[int, int, Decimal]) -> tuple[int, int, Decimal]:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_fund_grouping_equals_the_join_for_random_settles_and_revokes(
    svc: Service, seed: int
) -> None:
    rng = random.Random(seed)
    hospitals = [await svc.hospital(), await svc.hospital(level=3, region_code="370402")]
    day = date.fromisoformat((await svc.settle(hospitals[0], svc.patient()))["setl_date"])
    before = await report_by_fund(svc, day)

    # What the day's fund grouping must gain: each bill's fund rows, and for a revoked one its
    # reversal's (the same codes, amounts negated, each a reversal).
    gained: dict[str, list[Any]] = defaultdict(lambda: [0, 0, Decimal("0.00")])
    settled: list[tuple[Any, dict[str, Any]]] = []
    for _ in range(rng.randint(3, 8)):
        hospital = rng.choice(hospitals)
        patient = svc.patient(*rng.choice([(), ("dibao",), ("destitute",), ("dibao", "destitute")]))
        bill = await svc.settle(hospital, patient, seed=rng.randrange(10**6))
        assert bill["setl_date"] == day.isoformat()  # the reversals' day below
        settled.append((hospital, bill))
        for row in bill["setldetail"]:
            gained[row["fund_pay_type"]][0] += 1
            gained[row["fund_pay_type"]][2] += Decimal(row["fund_payamt"])
    for hospital, bill in rng.sample(settled, rng.randint(1, len(settled))):
        reversal = (await svc.revoke(hospital, bill["setl_id"]))["reversal"]
        assert reversal["setl_date"] == day.isoformat()
        for row in bill["setldetail"]:
            gained[row["fund_pay_type"]][0] += 1
            gained[row["fund_pay_type"]][1] += 1
            gained[row["fund_pay_type"]][2] -= Decimal(row["fund_payamt"])
    assert len(gained) > 1

    after = await report_by_fund(svc, day)
    zero = (0, 0, Decimal("0.00"))
    codes = after.keys() | before.keys() | gained.keys()
    moved = {code: _minus(after.get(code, zero), before.get(code, zero)) for code in codes}
    assert moved == {code: tuple(gained[code]) if code in gained else zero for code in codes}

    # The whole database (the suite's other bills too: reversals on later days, other months).
    for begin, end in ((day, day), SYNTHETIC_MONTH, EVERYTHING):
        now, joined = await both_ways(svc, begin, end)
        assert now == joined
    now, _ = await both_ways(svc, *EVERYTHING)
    assert any(reversals for _, _, _, reversals, _ in now)
