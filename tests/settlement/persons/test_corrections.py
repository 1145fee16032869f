"""A revoke leaves the year as if the bill had never been: the next bill of the person-year
brings every cumulative tier back to target(year's base) − what it already paid; the
accumulators answer shows what is still to be absorbed and every fund that paid this year."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.settlement.conftest import Service, bill_body, check_bill, make_id_number, unique

SURGERY = [
    {"code": "330100", "name": "手术费", "category": "A", "unit_price": "30000.00", "quantity": 1}
]


async def settle(
    svc: Service, hospital: Any, visit_id: str, admitted: str, discharged: str, person: str
) -> dict[str, Any]:
    body = bill_body(
        person, visit_id=visit_id, admitted_on=admitted, discharged_on=discharged, items=SURGERY
    )
    response = await svc.client.post(
        "/v1/settlements", json=body, headers=hospital.headers(unique("K"))
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_revoke_out_of_order_is_corrected_by_the_next_bill(svc: Service) -> None:
    # The values (policy 2020, level 2, key class). Before: bill 3 paid critical
    # illness 4,228.12, assistance 2,421.57, patient 1,037.81 — the year's CI payments were
    # 8,456.24 on a base of 15,375.00 where F(15,375) = (15,375 − 6,000) × 0.55 = 5,156.25.
    # Now bill 3 pays CI 5,156.25 − 4,228.12 (bill 2's, still standing) = 928.13, assistance
    # 4,731.56 and the patient 2,027.81.
    hospital = await svc.hospital(level=2)
    person = svc.registry.add("370305195808070357", "registered_poor")
    first = await settle(svc, hospital, "ZY-FC03-0001", "2026-02-05", "2026-02-10", person)
    second = await settle(svc, hospital, "ZY-FC03-0002", "2026-04-05", "2026-04-10", person)
    revoked = await svc.client.post(
        f"/v1/settlements/{first['setl_id']}/revoke", headers=hospital.headers()
    )
    assert revoked.status_code == 200

    acc = (
        await svc.client.get(f"/v1/persons/{person}/accumulators", headers=hospital.headers())
    ).json()
    # Bill 2 was paid as the second bill of the year; alone it owes less: the difference is
    # what the next bill absorbs.
    assert Decimal(acc["to_be_absorbed"].get("390200", "0")) > 0

    third = await settle(svc, hospital, "ZY-FC03-0003", "2026-06-05", "2026-06-10", person)
    check_bill(third)
    assert third["hifmi_pay"] == "928.13"
    assert third["maf_pay"] == "4731.56"
    assert third["psn_cash_pay"] == "2027.81"
    assert Decimal(second["hifmi_pay"]) + Decimal(third["hifmi_pay"]) == Decimal("5156.25")

    acc = (
        await svc.client.get(f"/v1/persons/{person}/accumulators", headers=hospital.headers())
    ).json()
    assert acc["to_be_absorbed"] == {}
    critical = next(f for f in acc["funds"] if f["fund_pay_type"] == "390200")
    assert critical["paid_this_year"] == "5156.25"


async def test_a_fund_that_paid_this_year_stays_visible_after_a_class_change(svc: Service) -> None:
    # Medical assistance paid a key person this year; the registry now says the person holds
    # no category (aid class none, which medical assistance does not serve): its payments are
    # still shown, with nothing more to pay.
    hospital = await svc.hospital(level=2)
    person = svc.registry.add(make_id_number(born="19600101"), "dibao")
    bill = await settle(svc, hospital, unique("V"), "2026-02-05", "2026-02-10", person)
    assert Decimal(bill["maf_pay"]) > 0
    svc.registry.persons[person] = []
    acc = (
        await svc.client.get(f"/v1/persons/{person}/accumulators", headers=hospital.headers())
    ).json()
    assert acc["aid_class"] == "none"
    assistance = next(f for f in acc["funds"] if f["fund_pay_type"] == "610100")
    assert assistance["paid_this_year"] == bill["maf_pay"]
    assert assistance["remaining"] == "0.00"
