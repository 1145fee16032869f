"""Temporary assistance grants: drawn on by settles, given back by revokes, on SQLite and
PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

from tests.settlement.conftest import (
    Service,
    admin_headers,
    bill_body,
    check_bill,
    fields_of,
    make_id_number,
    settle,
    standard_items,
    unique,
)


async def test_temporary_assistance_grants(svc: Service) -> None:
    hospital = await svc.hospital()
    person = svc.registry.add(make_id_number(), "low_income")
    reference = unique("临救-")
    grants = []
    for amount, ref in (("300.00", reference), ("5000.00", reference + "b")):
        response = await svc.client.post(
            "/v1/grants",
            json={
                "id_number": person,
                "amount": amount,
                "valid_from": "2026-01-01",
                "valid_to": "2026-12-31",
                "reference": ref,
            },
            headers=admin_headers(),
        )
        assert response.status_code == 201, response.text
        grants.append(response.json())
    assert grants[0]["balance"] == "300.00"
    assert grants[0]["id_number_masked"].endswith(person[-4:])

    body = bill_body(person, items=standard_items())
    preview = await svc.client.post(
        "/v1/settlements/preview", json=body, headers=hospital.headers()
    )
    response = await settle(svc, hospital, body)
    assert response.status_code == 201, response.text
    bill = response.json()
    check_bill(bill)
    assert bill["oth_pay"] == preview.json()["oth_pay"]
    rows = [r for r in bill["setldetail"] if r["fund_pay_type"] == "610200"]
    assert len(rows) == 1
    drawn = Decimal(rows[0]["fund_payamt"])
    assert drawn > Decimal("300.00")  # more than the oldest grant: both were drawn on
    assert rows[0]["crt_payb_lmt_amt"] == "5300.00"

    acc = await svc.client.get(f"/v1/persons/{person}/accumulators", headers=admin_headers())
    balances = {g["reference"]: Decimal(g["balance"]) for g in acc.json()["grants"]}
    assert balances[reference] == Decimal("0.00")
    assert balances[reference + "b"] == Decimal("5300.00") - drawn
    assert Decimal(acc.json()["totals"]["temporary_assistance"]) == drawn

    await svc.client.post(f"/v1/settlements/{bill['setl_id']}/revoke", headers=hospital.headers())
    acc = await svc.client.get(f"/v1/persons/{person}/accumulators", headers=admin_headers())
    assert {g["reference"]: g["balance"] for g in acc.json()["grants"]} == {
        reference: "300.00",
        reference + "b": "5000.00",
    }
    assert "temporary_assistance" not in acc.json()["totals"]

    # Outside its validity a grant pays nothing.
    late = await settle(
        svc,
        hospital,
        bill_body(person, admitted_on="2025-05-01", discharged_on="2025-05-03", total="900.00"),
    )
    assert late.status_code == 201, late.text
    assert all(r["fund_pay_type"] != "610200" for r in late.json()["setldetail"])

    duplicate = await svc.client.post(
        "/v1/grants",
        json={
            "id_number": person,
            "amount": "1",
            "valid_from": "2026-01-01",
            "valid_to": "2026-12-31",
            "reference": reference,
        },
        headers=admin_headers(),
    )
    assert duplicate.status_code == 409
    not_admin = await svc.client.post(
        "/v1/grants",
        json={
            "id_number": person,
            "amount": "1",
            "valid_from": "2026-01-01",
            "valid_to": "2026-12-31",
            "reference": unique("r"),
        },
        headers=hospital.headers(),
    )
    assert not_admin.status_code == 403
    backwards = await svc.client.post(
        "/v1/grants",
        json={
            "id_number": person,
            "amount": "1",
            "valid_from": "2026-05-01",
            "valid_to": "2026-04-30",
            "reference": unique("r"),
        },
        headers=admin_headers(),
    )
    assert backwards.status_code == 422
    assert fields_of(backwards) == ["valid_to"]
