"""The monthly view: a hospital's share of key-group patients, or of bills just below the
deductible, rising sharply from one month to the next (reported per hospital and month,
never on a bill)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from settlement.supervision.rules import MonthlyRule, load_rules
from settlement.supervision.service import SupervisionService
from tests.settlement.conftest import Service, admin_headers, fields_of
from tests.settlement.supervision.conftest import TODAY, days_ago, person, settled, stay

MONTHLY = """
version = "test-monthly"

[[rules]]
code = "M-KEY-SHARE"
kind = "monthly_rise"
title = "重点救助对象占比环比大幅上升"
severity = "medium"
measure = "key_patients"
max_rise = 0.20
min_bills = 4

[[rules]]
code = "M-BELOW-DEDUCTIBLE"
kind = "monthly_rise"
title = "起付线以下临界结算占比环比大幅上升"
severity = "medium"
measure = "below_threshold"
thresholds = { 1 = 200, 2 = 500, 3 = 1000 }
band = 0.10
max_rise = 0.15
min_bills = 4
"""

THIS_MONTH = TODAY.replace(day=1)
LAST_MONTH = (THIS_MONTH - timedelta(days=1)).replace(day=1)


def one_line(amount: str) -> list[dict[str, Any]]:
    return [{"code": "330100", "name": "手术费", "category": "A", "unit_price": amount,
             "quantity": 1}]  # fmt: skip


async def book(app: Service, hospital: Any, amount: str, *categories: str) -> str:
    bill = await settled(
        app,
        hospital,
        stay(person(app, *categories), days_ago(3), days_ago(2), items=one_line(amount)),
    )
    return str(bill["setl_id"])


async def move_to(app: Service, setl_ids: list[str], day: date) -> None:
    async with app.app.state.ctx.db.write() as conn:
        for setl_id in setl_ids:
            await conn.execute(
                text("UPDATE bills SET setl_date = :d WHERE setl_id = :s"), {"d": day, "s": setl_id}
            )


async def test_a_sharp_rise_is_flagged_in_the_monthly_view(rules_app: Any, svc: Service) -> None:
    app: Service = await rules_app("monthly", svc.backend, MONTHLY)
    rising, steady = await app.hospital(level=2), await app.hospital(level=2)
    # Last month: four ordinary patients at each hospital, amounts well above the deductible.
    earlier = [await book(app, h, "3000.00") for h in (rising, steady) for _ in range(4)]
    # At the steady hospital one key-group patient and one bill just below its deductible
    # (level 2: 500; "just below" is 450.00 to 499.99) last month too.
    earlier.append(await book(app, steady, "3000.00", "dibao"))
    earlier.append(await book(app, steady, "480.00"))
    await move_to(app, earlier, LAST_MONTH)
    # This month the rising hospital sees only key-group patients, billed just below 500.
    for _ in range(4):
        await book(app, rising, "499.99", "registered_poor")
    for categories, amount in (
        (("dibao",), "3000.00"),
        ((), "480.00"),
        ((), "3000.00"),
        ((), "3000.00"),
        ((), "3000.00"),
    ):
        await book(app, steady, amount, *categories)

    response = await app.client.get(
        "/v1/supervision/monthly",
        params={"from": LAST_MONTH.strftime("%Y-%m"), "to": THIS_MONTH.strftime("%Y-%m")},
        headers=admin_headers(),
    )
    assert response.status_code == 200, response.text
    view = response.json()
    rows = {(r["rule"], r["hospital_code"], r["month"]): r for r in view["rows"]}
    month, previous = THIS_MONTH.strftime("%Y-%m"), LAST_MONTH.strftime("%Y-%m")
    key = rows[("M-KEY-SHARE", rising.code, month)]
    assert (key["share"], key["previous_share"], key["rise"], key["flagged"]) == (
        "1.0000", "0.0000", "1.0000", True,
    )  # fmt: skip
    below = rows[("M-BELOW-DEDUCTIBLE", rising.code, month)]
    assert (below["count"], below["base"], below["flagged"]) == (4, 4, True)
    # The steady hospital: 1 of 6 patients key-group last month, 1 of 5 now: no sharp rise.
    steady_key = rows[("M-KEY-SHARE", steady.code, month)]
    assert (steady_key["share"], steady_key["previous_share"]) == ("0.2000", "0.1667")
    assert steady_key["flagged"] is False
    assert rows[("M-BELOW-DEDUCTIBLE", steady.code, month)]["flagged"] is False
    # Last month has no month before it in the data: no rise.
    first = rows[("M-KEY-SHARE", rising.code, previous)]
    assert (first["rise"], first["flagged"]) == (None, False)
    assert sorted((r["rule"], r["hospital_code"]) for r in view["flagged"]) == [
        ("M-BELOW-DEDUCTIBLE", rising.code),
        ("M-KEY-SHARE", rising.code),
    ]


async def test_monthly_view_validates_its_months(svc: Service) -> None:
    for params, field in (
        ({"from": "2026-13", "to": "2026-12"}, "query.from"),
        ({"from": "2026-01", "to": "2025-12"}, "query.to"),
        ({"from": "2020-01", "to": "2026-12"}, "query.to"),
    ):
        response = await svc.client.get(
            "/v1/supervision/monthly", params=params, headers=admin_headers()
        )
        assert response.status_code == 422, params
        assert fields_of(response) == [field]


def test_rise_needs_enough_bills_in_both_months() -> None:
    rules = load_rules(MONTHLY)
    rule = rules.monthly()[0]
    assert isinstance(rule, MonthlyRule)

    class Row:
        def __init__(self, month: date, bills: int, key: int) -> None:
            self.hospital_id, self.year, self.month = 1, month.year, month.month
            self.bills, self.patients, self.key_patients, self.below = bills, bills, key, 0

    counted = [Row(LAST_MONTH, 3, 0), Row(THIS_MONTH, 10, 10)]
    rows = SupervisionService._monthly_rows(
        rule, counted, {1: ("H1", "医院")}, LAST_MONTH, THIS_MONTH
    )  # type: ignore[arg-type]
    assert [r.flagged for r in rows] == [False, False]  # 3 bills last month < min_bills 4
    counted = [Row(LAST_MONTH, 4, 0), Row(THIS_MONTH, 10, 10)]
    rows = SupervisionService._monthly_rows(
        rule, counted, {1: ("H1", "医院")}, LAST_MONTH, THIS_MONTH
    )  # type: ignore[arg-type]
    assert [r.flagged for r in rows] == [False, True]
    assert Decimal(rows[1].rise or "0") == Decimal("1.0000")
