"""The accumulators answer (5206): a person's running totals and what each fund has left, on
SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

from tests.settlement.conftest import (
    Service,
    admin_headers,
    bill_body,
    check_bill,
    fields_of,
    make_id_number,
    problem,
    settle,
)
from tests.support import ledger


async def test_accumulators_follow_settled_bills(svc: Service) -> None:
    hospital = await svc.hospital(level=3)
    other = await svc.hospital()
    person = svc.registry.add(make_id_number(), "destitute")
    amounts = []
    setl_ids = []
    for total in ("150000.00", "250000.00", "40000.00"):
        response = await settle(svc, hospital, bill_body(person, total=total))
        assert response.status_code == 201, response.text
        amounts.append(check_bill(response.json()))
        setl_ids.append(response.json()["setl_id"])
    await svc.client.post(f"/v1/settlements/{setl_ids[1]}/revoke", headers=hospital.headers())
    kept = [amounts[0], amounts[2]]

    response = await svc.client.get(
        f"/v1/persons/{person}/accumulators", params={"year": 2026}, headers=hospital.headers()
    )
    assert response.status_code == 200, response.text
    acc = response.json()
    assert acc["settled_bills"] == 2
    assert acc["aid_class"] == "key"
    paid = {(f["fund_pay_type"], f["visit_type"]): f for f in acc["funds"]}
    basic = paid[("390100", "inpatient")]
    assert Decimal(basic["paid_this_year"]) == sum(a["hifp_pay"] for a in kept)
    assert Decimal(basic["remaining"]) == Decimal(basic["annual_limit"]) - Decimal(
        basic["paid_this_year"]
    )
    assert Decimal(paid[("390200", None)]["paid_this_year"]) == sum(a["hifmi_pay"] for a in kept)
    assert Decimal(paid[("610100", None)]["paid_this_year"]) == sum(a["maf_pay"] for a in kept)
    assert await ledger.person_problems(svc.app.state.ctx.db, person, 2026) == []
    assert {k: Decimal(v) for k, v in acc["totals"].items()} == await ledger.stored_totals(
        svc.app.state.ctx.db, person, 2026
    )

    admin = await svc.client.get(f"/v1/persons/{person}/accumulators", headers=admin_headers())
    assert admin.status_code == 200
    assert admin.json()["funds"] == acc["funds"]
    forbidden = await svc.client.get(f"/v1/persons/{person}/accumulators", headers=other.headers())
    assert forbidden.status_code == 403
    problem(forbidden)
    assert (await svc.client.get(f"/v1/persons/{person}/accumulators")).status_code == 401
    bad = await svc.client.get("/v1/persons/123/accumulators", headers=admin_headers())
    assert bad.status_code == 422
    assert fields_of(bad) == ["path.id_number"]
    future = await svc.client.get(
        f"/v1/persons/{person}/accumulators", params={"year": 2999}, headers=admin_headers()
    )
    assert future.status_code == 422
    assert fields_of(future) == ["query.year"]
    past = await svc.client.get(
        f"/v1/persons/{person}/accumulators", params={"year": 2025}, headers=admin_headers()
    )
    assert past.status_code == 200
    assert past.json()["settled_bills"] == 0
    assert past.json()["on"] == "2025-12-31"
