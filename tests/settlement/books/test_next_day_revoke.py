"""A bill settled on one local day and revoked on the next (issue 11, part 2): the revoke is
booked on its own day, the closed day never changes.

Person 370305197712120136 (a key assistance group), one category-A item of 5,000.00 at the
level-3 hospital H370305002, policy 2020: basic insurance (5,000 − 1,000 × 0.5) × 0.60 =
2,700.00, medical assistance 2,300 × 0.70 = 1,610.00: the funds 4,310.00, the patient 690.00.
The service runs at UTC−12 for the settle and is restarted at UTC+14 for the revoke, so the
revoke falls on a later local day."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from settlement.cli import MIGRATIONS
from shared.db import run_migrations
from tests.settlement.admin.conftest import BACKENDS, FakeRegistry, admin_headers
from tests.settlement.books.helpers import (
    GROUPINGS,
    detail,
    policy_text,
    report,
    running,
    simulate,
    summary,
)
from tests.settlement.conftest import without_link

PERSON = "370305197712120136"
HOSPITAL = "H370305002"
TOTALS = {
    "medfee_sumamt": "5000.00",
    "fund_pay_sumamt": "4310.00",
    "psn_cash_pay": "690.00",
    "setl_cnt": 1,
}
NEGATED = {
    "medfee_sumamt": "-5000.00",
    "fund_pay_sumamt": "-4310.00",
    "psn_cash_pay": "-690.00",
    "setl_cnt": 1,
}
AMOUNTS = ("medfee_sumamt", "fund_pay_sumamt", "psn_cash_pay")


def settle_body(visit_id: str) -> dict[str, Any]:
    discharged = date.today() - timedelta(days=3)
    return {
        "patient": {"id_number": PERSON, "name": "王五"},
        "visit": {
            "visit_id": visit_id,
            "type": "inpatient",
            "admitted_on": (discharged - timedelta(days=5)).isoformat(),
            "discharged_on": discharged.isoformat(),
        },
        "items": [
            {
                "code": "330100",
                "name": "手术费",
                "category": "A",
                "unit_price": "5000.00",
                "quantity": 1,
            }
        ],
    }


async def every_report(client: Any, day: date) -> dict[str, Any]:
    """The day's fund report in every grouping, JSON and CSV."""
    out = {}
    for group_by in GROUPINGS:
        out[group_by] = await report(client, day, day, group_by)
        out[f"{group_by}.csv"] = await report(client, day, day, group_by, csv=True)
    return out


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_next_day_revoke_leaves_the_closed_day_alone(
    backend: str, database_factory: Callable[[str, str], str]
) -> None:
    def make() -> str:
        url = database_factory(backend, "next_day_revoke")
        run_migrations(MIGRATIONS, url)
        return url

    url = await asyncio.to_thread(make)
    registry = FakeRegistry({PERSON: ["registered_poor"]})

    # Day one, at UTC−12: the hospital settles and closes its books.
    async with running(url, registry, utc_offset_hours=-12) as client:
        created = await client.post(
            "/v1/hospitals",
            json={"code": HOSPITAL, "name": "示范三级医院", "level": 3, "region_code": "370305"},
            headers=admin_headers(),
        )
        assert created.status_code == 201, created.text
        hospital = {"Authorization": f"Bearer {created.json()['api_key']}"}
        settled = await client.post(
            "/v1/settlements",
            json=settle_body("ZY-FC02-0001"),
            headers={**hospital, "Idempotency-Key": "fc02-settle-1"},
        )
        assert settled.status_code == 201, settled.text
        bill = settled.json()
        assert bill["policy_version"] == "2020"
        assert bill["patient"]["aid_class"] == "key"
        assert {k: bill[k] for k in AMOUNTS} == {k: TOTALS[k] for k in AMOUNTS}
        assert (bill["hifp_pay"], bill["maf_pay"]) == ("2700.00", "1610.00")
        assert bill["refd_setl_flag"] == 0
        assert bill["reversal"] is None
        day_one = date.fromisoformat(bill["setl_date"])
        closed = await summary(client, HOSPITAL, day_one, day_one, TOTALS)
        assert closed["matched"] is True, closed
        reports_before = await every_report(client, day_one)
        closed_detail = await detail(
            client,
            HOSPITAL,
            day_one,
            day_one,
            [
                {
                    "setl_id": bill["setl_id"],
                    "visit_id": "ZY-FC02-0001",
                    "id_number": PERSON,
                    "medfee_sumamt": "5000.00",
                    "fund_pay_sumamt": "4310.00",
                    "status": "settled",
                }
            ],
        )
        assert closed_detail["matched"] is True
        what_if_before = await simulate(client, policy_text(day_one), day_one, day_one)

    # Restarted at UTC+14: the revoke falls on a later local day.
    async with running(url, registry, utc_offset_hours=14) as client:
        revoked = await client.post(
            f"/v1/settlements/{bill['setl_id']}/revoke",
            json={"reason": "患者要求重新结算"},
            headers=hospital,
        )
        assert revoked.status_code == 200, revoked.text
        answer = revoked.json()
        assert answer["status"] == "revoked"
        assert answer["setl_id"] == bill["setl_id"]
        assert answer["setl_date"] == bill["setl_date"]  # the bill keeps its day
        assert {k: answer[k] for k in AMOUNTS} == {k: TOTALS[k] for k in AMOUNTS}
        reversal = answer["reversal"]
        assert reversal["refd_setl_flag"] == 1
        assert reversal["setl_id"].startswith("R")
        assert reversal["setl_id"] != bill["setl_id"]
        assert reversal["setl_time"] == answer["revoked_at"]
        day_two = date.fromisoformat(reversal["setl_date"])
        assert day_two > day_one

        # Replaying the revoke (or naming the reversal) answers the same, books nothing more.
        again = await client.post(f"/v1/settlements/{bill['setl_id']}/revoke", headers=hospital)
        assert without_link(again.json()) == without_link(answer)
        by_reversal = await client.get(f"/v1/settlements/{reversal['setl_id']}", headers=hospital)
        assert without_link(by_reversal.json()) == without_link(answer)

        # Day one is closed: its reconciliation still matches, its reports are unchanged.
        assert (await summary(client, HOSPITAL, day_one, day_one, TOTALS))["matched"] is True
        assert await every_report(client, day_one) == reports_before
        still = await detail(
            client,
            HOSPITAL,
            day_one,
            day_one,
            [
                {
                    "setl_id": bill["setl_id"],
                    "visit_id": "ZY-FC02-0001",
                    "id_number": PERSON,
                    "medfee_sumamt": "5000.00",
                    "fund_pay_sumamt": "4310.00",
                    "status": "settled",
                }
            ],
        )
        assert still["matched"] is True
        assert still["rows"][0]["status"] == "settled"  # as it stood when day one ended
        assert await simulate(client, policy_text(day_one), day_one, day_one) == what_if_before

        # Day two holds the reversal: in reconciliation (net), reports and detail rows.
        net = await summary(client, HOSPITAL, day_two, day_two, NEGATED)
        assert net["matched"] is True, net
        assert net["service"] == NEGATED
        both = await summary(
            client,
            HOSPITAL,
            day_one,
            day_two,
            {"medfee_sumamt": "0.00", "fund_pay_sumamt": "0.00", "psn_cash_pay": "0.00"}
            | {"setl_cnt": 2},
        )
        assert both["matched"] is True, both
        by_day = await report(client, day_two, day_two, "day")
        (row,) = by_day["rows"]
        assert row["key"] == day_two.isoformat()
        assert (row["bill_count"], row["reversal_count"]) == (1, 1)
        assert {k: row["amounts"][k] for k in AMOUNTS} == {k: NEGATED[k] for k in AMOUNTS}
        assert row["amounts"]["hifp_pay"] == "-2700.00"
        assert row["amounts"]["maf_pay"] == "-1610.00"
        by_hospital = await report(client, day_two, day_two, "hospital")
        assert by_hospital["rows"][0]["key"] == HOSPITAL
        assert by_hospital["rows"][0]["amounts"]["fund_pay_sumamt"] == "-4310.00"
        by_fund = await report(client, day_two, day_two, "fund")
        assert {r["key"]: r["amounts"]["fund_payamt"] for r in by_fund["rows"]} == {
            "390100": "-2700.00",
            "390200": "0.00",
            "610100": "-1610.00",
            "640100": "0.00",
        }
        assert by_fund["total"]["amounts"]["fund_payamt"] == "-4310.00"
        assert by_fund["total"]["bill_count"] == 1
        csv_text = await report(client, day_two, day_two, "aid_class", csv=True)
        assert (
            "key,重点救助对象,1,-5000.00,-2700.00,0.00,-1610.00,0.00,-4310.00,-690.00,1" in csv_text
        )
        books = [
            {
                "setl_id": reversal["setl_id"],
                "visit_id": "ZY-FC02-0001",
                "id_number": PERSON,
                "medfee_sumamt": "-5000.00",
                "fund_pay_sumamt": "-4310.00",
                "status": "revoked",
                "refd_setl_flag": 1,
            }
        ]
        rows = await detail(client, HOSPITAL, day_two, day_two, books)
        assert rows["matched"] is True, rows
        assert rows["rows"] == [
            {
                "setl_id": reversal["setl_id"],
                "result": "0",
                "visit_id": "ZY-FC02-0001",
                "status": "revoked",
                "medfee_sumamt": "-5000.00",
                "fund_pay_sumamt": "-4310.00",
                "differences": [],
                "refd_setl_flag": 1,
                "init_setl_id": bill["setl_id"],
            }
        ]
        what_if = await simulate(client, policy_text(day_two), day_two, day_two)
        assert (what_if["bills"], what_if["reversals"]) == (1, 1)
        assert what_if["fund_pay_sumamt"] == {
            "in_force": "-4310.00",
            "candidate": "-4310.00",
            "difference": "0.00",
        }

        # The bill list of a day lists the bills settled that day (a revoked one with its
        # reversal); reversals are records of the books, not bills.
        listed = await client.get(
            "/v1/settlements", params={"date": day_one.isoformat()}, headers=hospital
        )
        assert [b["setl_id"] for b in listed.json()["items"]] == [bill["setl_id"]]
        assert listed.json()["items"][0]["reversal"] == reversal
        later = await client.get(
            "/v1/settlements", params={"date": day_two.isoformat()}, headers=hospital
        )
        assert later.json()["items"] == []

        # The receipt shows the reversal and its day.
        receipt = await client.get(f"/v1/settlements/{bill['setl_id']}/receipt", headers=hospital)
        assert receipt.status_code == 200
        assert reversal["setl_id"] in receipt.text
        assert f'<td class="reversal-date">{day_two.isoformat()}</td>' in receipt.text
        assert "-4310.00" in receipt.text

        # The administrator's page shows the day's reversal and finds it.
        page = await client.get(
            "/admin",
            params={"from": day_two.isoformat(), "to": day_two.isoformat(), "q": "ZY-FC02-0001"},
            headers=admin_headers(),
        )
        assert page.status_code == 200
        assert "-4310.00" in page.text
        assert (
            f'<span class="reversal" title="refd_setl_flag 1">冲销</span>'
            f'<span class="sub">{bill["setl_id"]}</span>'
        ) in page.text

        # The running totals are back to zero; settling the visit again is a new bill.
        resettled = await client.post(
            "/v1/settlements",
            json=settle_body("ZY-FC02-0001"),
            headers={**hospital, "Idempotency-Key": "fc02-settle-2"},
        )
        assert resettled.status_code == 201, resettled.text
        new_bill = resettled.json()
        assert new_bill["setl_id"] not in (bill["setl_id"], reversal["setl_id"])
        assert new_bill["fund_pay_sumamt"] == "4310.00"  # the year starts from zero again
        assert new_bill["setl_date"] == day_two.isoformat()
        # Day two now holds the reversal and the new bill: net zero, two records.
        assert (
            await summary(
                client,
                HOSPITAL,
                day_two,
                day_two,
                {"medfee_sumamt": "0.00", "fund_pay_sumamt": "0.00", "psn_cash_pay": "0.00"}
                | {"setl_cnt": 2},
            )
        )["matched"] is True
        assert Decimal(closed["service"]["medfee_sumamt"]) == Decimal("5000.00")
