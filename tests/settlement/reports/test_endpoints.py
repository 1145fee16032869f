"""The fund report: every grouping sums exactly (to the fen) what a Python sum over the records
of the period gives (bills settled in it, reversals booked in it, net), records outside the
period are left out, CSV with a BOM."""

from __future__ import annotations

import csv
import io
import random
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from settlement.database import Database
from tests.settlement.admin.conftest import Service, admin_headers, local_day
from tests.settlement.reports.synthetic import (
    AMOUNTS,
    FUNDS,
    Bill,
    bill_values,
    fund_rows,
    hospital_ids,
    insert_bills,
    make_amounts,
    negated,
)

BEGIN = date(2025, 3, 1)
END = date(2025, 3, 31)
PERIOD = {"from": BEGIN.isoformat(), "to": END.isoformat()}
GROUPINGS = ["hospital", "fund", "aid_class", "region", "day"]
AID_LABELS = {"key": "重点救助对象", "assisted": "一般救助对象", "none": "普通参保人员"}

_data: dict[str, list[Bill]] = {}


async def synthetic_month(svc: Service) -> list[Bill]:
    """Three hospitals in two regions; 400 bills over March 2025 (some revoked, their
    reversals booked on the day or up to three days later, some after the month) and a few
    the day before and after."""
    if svc.backend in _data:
        return _data[svc.backend]
    rng = random.Random(20250301)
    made = [
        await svc.hospital(level=2, region_code="370305"),
        await svc.hospital(level=3, region_code="370305"),
        await svc.hospital(level=1, region_code="370402"),
    ]
    db = Database.from_url(svc.url, pool_size=1)
    try:
        ids = await hospital_ids(db, [h.code for h in made])
        out: list[Bill] = []
        rows: list[dict[str, Any]] = []
        funds: list[dict[str, Any]] = []
        reversals: list[Bill] = []
        reversal_rows: list[dict[str, Any]] = []
        days = [BEGIN - timedelta(days=1), END + timedelta(days=1)] + [
            BEGIN + timedelta(days=i) for i in range(31)
        ]
        for n in range(420):
            hospital = rng.choice(made)
            day = days[n] if n < 2 else rng.choice(days[2:])
            status = "revoked" if rng.random() < 0.1 else "settled"
            aid_class = rng.choice(["key", "key", "assisted", "none"])
            amounts = make_amounts(rng)
            setl_id = f"SYN{svc.backend[:2].upper()}{n:06d}{hospital.code}"
            revoked_on = (
                day + timedelta(days=rng.choice([0, 0, 1, 3])) if status == "revoked" else None
            )
            if n == 2:  # settled on the month's last day, revoked the day after
                day, status, revoked_on = END, "revoked", END + timedelta(days=1)
            out.append(
                Bill(setl_id, hospital.code, hospital.region_code, day, status, aid_class, amounts)
            )
            rows.append(
                bill_values(
                    setl_id,
                    ids[hospital.code],
                    day,
                    status,
                    aid_class,
                    amounts,
                    revoked_on=revoked_on,
                )
            )
            funds.extend(fund_rows(setl_id, amounts))
            if revoked_on is not None:
                reversal_id = "R" + setl_id[1:]
                reversals.append(
                    Bill(
                        reversal_id,
                        hospital.code,
                        hospital.region_code,
                        revoked_on,
                        "revoked",
                        aid_class,
                        negated(amounts),
                        1,
                    )
                )
                reversal_rows.append(
                    bill_values(
                        reversal_id,
                        ids[hospital.code],
                        revoked_on,
                        "revoked",
                        aid_class,
                        negated(amounts),
                        init_setl_id=setl_id,
                    )
                )
                funds.extend(fund_rows(reversal_id, negated(amounts)))
        assert reversals, "some bills are revoked"
        assert any(r.setl_date > END for r in reversals)  # revoked after the month
        out.extend(reversals)
        await insert_bills(db, rows + reversal_rows, funds)
    finally:
        await db.dispose()
    _data[svc.backend] = out
    return out


def expected(bills: list[Bill], group_by: str) -> dict[str, tuple[int, dict[str, Decimal], int]]:
    """The report computed in Python from the records: (count, amounts, reversals) per key."""
    counted = [b for b in bills if BEGIN <= b.setl_date <= END]
    groups: dict[str, list[Any]] = defaultdict(lambda: [0, defaultdict(Decimal), 0])
    for b in counted:
        if group_by == "fund":
            for field, code, _ in FUNDS:
                if b.amounts[field]:
                    groups[code][0] += 1
                    groups[code][1]["fund_payamt"] += b.amounts[field]
                    groups[code][2] += b.refd_setl_flag
            continue
        key = {
            "hospital": b.hospital_code,
            "aid_class": b.aid_class,
            "region": b.region_code,
            "day": b.setl_date.isoformat(),
        }[group_by]
        groups[key][0] += 1
        groups[key][2] += b.refd_setl_flag
        for name in AMOUNTS:
            groups[key][1][name] += b.amounts[name]
    return {k: (v[0], dict(v[1]), v[2]) for k, v in groups.items()}


def python_total(bills: list[Bill]) -> tuple[int, dict[str, Decimal], int]:
    counted = [b for b in bills if BEGIN <= b.setl_date <= END]
    return (
        len(counted),
        {name: sum((b.amounts[name] for b in counted), Decimal(0)) for name in AMOUNTS},
        sum(b.refd_setl_flag for b in counted),
    )


@pytest.mark.parametrize("group_by", GROUPINGS)
async def test_report_groups_sum_to_the_bills(svc: Service, group_by: str) -> None:
    bills = await synthetic_month(svc)
    response = await svc.client.get(
        "/v1/reports/funds", params={**PERIOD, "group_by": group_by}, headers=admin_headers()
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["from"] == PERIOD["from"]
    assert report["group_by"] == group_by
    want = expected(bills, group_by)
    got = {
        r["key"]: (
            r["bill_count"],
            {k: Decimal(v) for k, v in r["amounts"].items()},
            r["reversal_count"],
        )
        for r in report["rows"]
    }
    assert got == want
    assert any(r["reversal_count"] for r in report["rows"])
    for row in report["rows"]:  # amounts are strings with two decimals
        assert all(v == f"{Decimal(v):.2f}" for v in row["amounts"].values())
    assert [r["key"] for r in report["rows"]] == sorted(want)

    count, sums, reversals = python_total(bills)
    total = report["total"]
    assert total["bill_count"] == count
    assert total["reversal_count"] == reversals
    if group_by == "fund":
        assert report["columns"] == ["fund_payamt"]
        assert Decimal(total["amounts"]["fund_payamt"]) == sums["fund_pay_sumamt"]
        names = {r["key"]: r["name"] for r in report["rows"]}
        assert names["390100"] == "城乡居民基本医疗保险基金"
    else:
        assert report["columns"] == list(AMOUNTS)
        assert {k: Decimal(v) for k, v in total["amounts"].items()} == sums
    if group_by == "aid_class":
        assert {r["key"]: r["name"] for r in report["rows"]} == {k: AID_LABELS[k] for k in want}


@pytest.mark.parametrize("group_by", ["hospital", "fund"])
async def test_report_csv_has_a_bom_and_parses(svc: Service, group_by: str) -> None:
    bills = await synthetic_month(svc)
    response = await svc.client.get(
        "/v1/reports/funds",
        params={**PERIOD, "group_by": group_by},
        headers={**admin_headers(), "Accept": "text/csv"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    *groups, total = rows
    assert total[group_by] == "TOTAL"
    want = expected(bills, group_by)
    assert {r[group_by]: int(r["bill_count"]) for r in groups} == {k: v[0] for k, v in want.items()}
    assert {r[group_by]: int(r["reversal_count"]) for r in groups} == {
        k: v[2] for k, v in want.items()
    }
    assert list(rows[0])[-1] == "reversal_count"
    column = "fund_payamt" if group_by == "fund" else "medfee_sumamt"
    assert sum(Decimal(r[column]) for r in groups) == Decimal(total[column])
    count, sums, reversals = python_total(bills)
    assert int(total["bill_count"]) == count
    assert int(total["reversal_count"]) == reversals
    assert Decimal(total[column]) == sums["fund_pay_sumamt" if group_by == "fund" else column]
    if group_by == "hospital":
        assert all(r["name"].startswith("医院 ") for r in groups)  # Chinese names intact


async def test_report_over_settled_bills_matches_the_database(svc: Service) -> None:
    """Bills settled through the API today, one revoked: the day's row equals a Python sum
    over the day's records (bills and the reversal) read from the database, and the revoked
    bill nets to zero."""
    from sqlalchemy import select

    from tests.settlement.reports.synthetic import bills as bills_table
    from tests.settlement.reports.synthetic import hospitals as hospitals_table

    hospital = await svc.hospital()
    made = [await svc.settle(hospital, svc.patient("dibao")) for _ in range(3)]
    await svc.revoke(hospital, made[2]["setl_id"])
    day = local_day(made[0])
    db = Database.from_url(svc.url, pool_size=1)
    try:
        async with db.read() as conn:
            rows = (
                await conn.execute(
                    select(*(bills_table.c[name] for name in AMOUNTS)).where(
                        bills_table.c.hospital_id.in_(
                            select(hospitals_table.c.id).where(
                                hospitals_table.c.code == hospital.code
                            )
                        ),
                        bills_table.c.setl_date == day,
                    )
                )
            ).all()
    finally:
        await db.dispose()
    assert len(rows) == 4  # three bills and one reversal
    response = await svc.client.get(
        "/v1/reports/funds",
        params={"from": day.isoformat(), "to": day.isoformat(), "group_by": "hospital"},
        headers=admin_headers(),
    )
    report = response.json()
    (row,) = [r for r in report["rows"] if r["key"] == hospital.code]
    assert row["bill_count"] == len(rows)
    assert row["reversal_count"] == 1
    for index, name in enumerate(AMOUNTS):
        assert Decimal(row["amounts"][name]) == sum((r[index] for r in rows), Decimal(0))
        assert Decimal(row["amounts"][name]) == sum(
            (Decimal(b[name]) for b in made[:2]), Decimal(0)
        )


async def test_report_needs_the_admin_and_a_sane_period(svc: Service) -> None:
    hospital = await svc.hospital()
    params = {**PERIOD, "group_by": "hospital"}
    assert (await svc.client.get("/v1/reports/funds", params=params)).status_code == 401
    forbidden = await svc.client.get("/v1/reports/funds", params=params, headers=hospital.headers())
    assert forbidden.status_code == 403
    backwards = await svc.client.get(
        "/v1/reports/funds",
        params={"from": "2025-03-02", "to": "2025-03-01", "group_by": "day"},
        headers=admin_headers(),
    )
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["field"] == "query.to"
    unknown = await svc.client.get(
        "/v1/reports/funds", params={**PERIOD, "group_by": "ward"}, headers=admin_headers()
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "query.group_by"
    empty = await svc.client.get(
        "/v1/reports/funds",
        params={"from": "2001-01-01", "to": "2001-01-31", "group_by": "fund"},
        headers=admin_headers(),
    )
    assert empty.status_code == 200
    assert empty.json()["rows"] == []
    assert empty.json()["total"]["bill_count"] == 0
    assert empty.json()["total"]["amounts"] == {"fund_payamt": "0.00"}
