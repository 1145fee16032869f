"""The settlement API end to end inside the process (registry mocked by respx), on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from settlement.audit.models import AuditRecord
from settlement.database import load_totals, table_of
from settlement.settlements.models import BillRow
from tests.settlement.conftest import (
    Service,
    admin_headers,
    bill_body,
    check_bill,
    fields_of,
    make_id_number,
    problem,
    standard_items,
    unique,
)

bills = table_of(BillRow)
audit = table_of(AuditRecord)
LOCAL = timezone(timedelta(hours=8))


def today_local() -> str:
    return datetime.now(LOCAL).date().isoformat()


async def settle(
    svc: Service, hospital: Any, body: dict[str, Any], key: str | None = None, **headers: str
) -> Any:
    return await svc.client.post(
        "/v1/settlements", json=body, headers=hospital.headers(key or unique("K"), **headers)
    )


async def count_bills(svc: Service, **where: Any) -> int:
    async with svc.app.state.ctx.db.read() as conn:
        stmt = select(func.count()).select_from(bills)
        for name, value in where.items():
            stmt = stmt.where(bills.c[name] == value)
        return int((await conn.execute(stmt)).scalar_one())


async def stored_totals(svc: Service, id_number: str, year: int = 2026) -> dict[str, Decimal]:
    async with svc.app.state.ctx.db.read() as conn:
        raw = (
            await conn.execute(
                text("SELECT totals FROM accumulators WHERE id_number = :i AND year = :y"),
                {"i": id_number, "y": year},
            )
        ).scalar()
    return load_totals(raw)


async def sum_of_settled_deltas(
    svc: Service, id_number: str, year: int = 2026
) -> dict[str, Decimal]:
    async with svc.app.state.ctx.db.read() as conn:
        rows = (
            await conn.execute(
                select(bills.c.deltas).where(
                    bills.c.id_number == id_number,
                    bills.c.acc_year == year,
                    bills.c.status == "settled",
                )
            )
        ).all()
    out: dict[str, Decimal] = {}
    for (raw,) in rows:
        for key, value in json.loads(raw).items():
            out[key] = out.get(key, Decimal(0)) + Decimal(value)
    return {k: v for k, v in out.items() if v}


async def test_settle_replay_conflicts_and_revoke(svc: Service) -> None:
    hospital = await svc.hospital()
    person = svc.registry.add(make_id_number(), "registered_poor")
    body = bill_body(person, items=standard_items())

    first = await settle(svc, hospital, body, "key-1")
    assert first.status_code == 201, first.text
    bill = first.json()
    check_bill(bill)
    assert bill["status"] == "settled"
    assert bill["hospital_code"] == hospital.code
    assert bill["visit_id"] == body["visit"]["visit_id"]
    assert bill["policy_version"] == "2020"
    assert bill["patient"] == {
        "id_number_masked": person[:6] + "********" + person[-4:],
        "name": "张三",
        "aid_class": "key",
        "categories": ["registered_poor"],
        "registered": True,
        "eligibility_on": "2026-03-02",
        "eligibility_source": "settlement",
    }
    assert person not in first.text
    assert {row["fund_pay_type"] for row in bill["setldetail"]} >= {"390100", "610100"}

    # The same key and body again (other JSON formatting): the same bill, 200.
    again = json.loads(json.dumps(body))
    again["items"][0]["unit_price"] = 60
    replay = await settle(svc, hospital, again, "key-1")
    assert replay.status_code == 200, replay.text
    assert replay.json() == bill

    # The same key, another body: 409 naming the bill.
    changed = json.loads(json.dumps(body))
    changed["items"][0]["quantity"] = 11
    clash = await settle(svc, hospital, changed, "key-1")
    assert clash.status_code == 409
    assert problem(clash)["setl_id"] == bill["setl_id"]

    # Another key for a visit that already has a settled bill: 409 naming it.
    double = await settle(svc, hospital, body, "key-2")
    assert double.status_code == 409
    assert problem(double)["setl_id"] == bill["setl_id"]
    assert bill["setl_id"] in problem(double)["detail"]
    assert await count_bills(svc, visit_id=body["visit"]["visit_id"]) == 1

    # Revoke, twice: the same revoked bill.
    revoked = await svc.client.post(
        f"/v1/settlements/{bill['setl_id']}/revoke",
        json={"reason": "录入错误"},
        headers=hospital.headers(),
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    assert revoked.json()["revoked_at"]
    again_revoked = await svc.client.post(
        f"/v1/settlements/{bill['setl_id']}/revoke", headers=hospital.headers()
    )
    assert again_revoked.status_code == 200
    assert again_revoked.json() == revoked.json()
    assert await stored_totals(svc, person) == {}

    # The original key still answers with that (now revoked) bill.
    replay = await settle(svc, hospital, body, "key-1")
    assert replay.status_code == 200
    assert replay.json()["status"] == "revoked"

    # After the revoke the visit can be settled again, under a new key.
    resettled = await settle(svc, hospital, body, "key-3")
    assert resettled.status_code == 201, resettled.text
    assert resettled.json()["setl_id"] != bill["setl_id"]
    assert resettled.json()["medfee_sumamt"] == bill["medfee_sumamt"]
    assert await stored_totals(svc, person) == await sum_of_settled_deltas(svc, person)


async def test_preview_stores_nothing(svc: Service) -> None:
    hospital = await svc.hospital()
    person = svc.registry.add(make_id_number(), "dibao")
    body = bill_body(person, total="80000.00")
    response = await svc.client.post(
        "/v1/settlements/preview", json=body, headers=hospital.headers()
    )
    assert response.status_code == 200, response.text
    preview = response.json()
    check_bill(preview)
    assert preview["status"] == "preview"
    assert preview["setl_id"] is None
    assert await count_bills(svc, id_number=person) == 0
    assert await stored_totals(svc, person) == {}

    settled = await settle(svc, hospital, body)
    assert settled.status_code == 201
    for name in ("medfee_sumamt", "hifp_pay", "hifmi_pay", "maf_pay", "oth_pay", "psn_cash_pay"):
        assert settled.json()[name] == preview[name]
    # A second preview sees the first bill in the running totals.
    second = await svc.client.post(
        "/v1/settlements/preview",
        json=bill_body(person, total="80000.00"),
        headers=hospital.headers(),
    )
    assert second.json()["act_pay_dedc"] == preview["act_pay_dedc"]
    assert second.json()["hifmi_pay"] != preview["hifmi_pay"]


async def test_query_list_and_other_hospitals(svc: Service) -> None:
    hospital = await svc.hospital()
    other = await svc.hospital()
    person = svc.registry.add(make_id_number(), "low_income")
    created = []
    for _ in range(3):
        response = await settle(svc, hospital, bill_body(person, total="1000.00"))
        assert response.status_code == 201
        created.append(response.json())
    await svc.client.post(
        f"/v1/settlements/{created[0]['setl_id']}/revoke", headers=hospital.headers()
    )

    one = await svc.client.get(
        f"/v1/settlements/{created[1]['setl_id']}", headers=hospital.headers()
    )
    assert one.status_code == 200
    assert one.json() == created[1]

    for path in (
        f"/v1/settlements/{created[1]['setl_id']}",
        f"/v1/settlements/{created[1]['setl_id']}/receipt",
    ):
        response = await svc.client.get(path, headers=other.headers())
        assert response.status_code == 404
        problem(response)
    response = await svc.client.post(
        f"/v1/settlements/{created[1]['setl_id']}/revoke", headers=other.headers()
    )
    assert response.status_code == 404
    assert (
        await svc.client.get("/v1/settlements/S-unknown", headers=hospital.headers())
    ).status_code == 404

    listing = await svc.client.get(
        "/v1/settlements", params={"date": today_local()}, headers=hospital.headers()
    )
    assert listing.status_code == 200
    ids = [b["setl_id"] for b in listing.json()["items"]]
    assert ids == sorted(c["setl_id"] for c in created)
    for item in listing.json()["items"]:
        check_bill(item)
    default_day = await svc.client.get("/v1/settlements", headers=hospital.headers())
    assert [b["setl_id"] for b in default_day.json()["items"]] == ids
    settled = await svc.client.get(
        "/v1/settlements",
        params={"date": today_local(), "status": "settled"},
        headers=hospital.headers(),
    )
    assert [b["setl_id"] for b in settled.json()["items"]] == ids[1:]
    revoked = await svc.client.get(
        "/v1/settlements", params={"status": "revoked"}, headers=hospital.headers()
    )
    assert [b["setl_id"] for b in revoked.json()["items"]] == ids[:1]
    page = await svc.client.get("/v1/settlements", params={"limit": 2}, headers=hospital.headers())
    assert [b["setl_id"] for b in page.json()["items"]] == ids[:2]
    assert page.json()["next_after"] == ids[1]
    rest = await svc.client.get(
        "/v1/settlements", params={"limit": 2, "after": ids[1]}, headers=hospital.headers()
    )
    assert [b["setl_id"] for b in rest.json()["items"]] == ids[2:]
    assert rest.json()["next_after"] is None
    empty = await svc.client.get(
        "/v1/settlements", params={"date": "2026-01-01"}, headers=hospital.headers()
    )
    assert empty.json() == {"items": [], "next_after": None}
    theirs = await svc.client.get("/v1/settlements", headers=other.headers())
    assert theirs.json()["items"] == []


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
    assert await stored_totals(svc, person) == await sum_of_settled_deltas(svc, person)
    assert {k: Decimal(v) for k, v in acc["totals"].items()} == await stored_totals(svc, person)

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


async def test_unknown_person_is_an_ordinary_insured(svc: Service) -> None:
    hospital = await svc.hospital()
    person = make_id_number()  # not in the registry: 404 there
    response = await settle(svc, hospital, bill_body(person, total="20000.00"))
    assert response.status_code == 201, response.text
    bill = response.json()
    check_bill(bill)
    assert bill["patient"]["aid_class"] == "none"
    assert bill["patient"]["registered"] is False
    assert bill["patient"]["categories"] == []
    assert bill["maf_pay"] == "0.00"
    assert [r["fund_pay_type"] for r in bill["setldetail"]][:1] == ["390100"]


async def test_registry_unreachable_is_503_and_writes_nothing(svc: Service) -> None:
    hospital = await svc.hospital()
    person = svc.registry.add(make_id_number(), "registered_poor")
    done = await settle(svc, hospital, bill_body(person), "kept-key")
    assert done.status_code == 201
    body = bill_body(person)
    audit_before = await _audit_count(svc)
    for mode in ("down", "error"):
        svc.registry.mode = mode
        response = await settle(svc, hospital, body)
        assert response.status_code == 503, response.text
        assert int(response.headers["retry-after"]) >= 1
        assert "registry" in problem(response)["detail"]
        preview = await svc.client.post(
            "/v1/settlements/preview", json=body, headers=hospital.headers()
        )
        assert preview.status_code == 503
        admission = await svc.client.post(
            "/v1/admissions",
            json={
                "patient": body["patient"],
                "visit": {"visit_id": unique("A"), "admitted_on": "2026-03-01"},
            },
            headers=hospital.headers(),
        )
        assert admission.status_code == 503
    assert await count_bills(svc, visit_id=body["visit"]["visit_id"]) == 0
    assert await _audit_count(svc) == audit_before
    # A retry of a bill settled before the outage needs no registry.
    replay = await settle(
        svc, hospital, bill_body(person, visit_id=done.json()["visit_id"]), "kept-key"
    )
    assert replay.status_code in (200, 409)
    svc.registry.mode = "ok"
    response = await settle(svc, hospital, body)
    assert response.status_code == 201


async def _audit_count(svc: Service) -> int:
    async with svc.app.state.ctx.db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(audit))).scalar_one())


async def test_replay_during_registry_outage(svc: Service) -> None:
    hospital = await svc.hospital()
    person = svc.registry.add(make_id_number(), "registered_poor")
    body = bill_body(person)
    first = await settle(svc, hospital, body, "outage-key")
    svc.registry.mode = "down"
    replay = await settle(svc, hospital, body, "outage-key")
    assert replay.status_code == 200
    assert replay.json() == first.json()


async def test_request_id_is_forwarded_and_audited(svc: Service) -> None:
    hospital = await svc.hospital()
    person = svc.registry.add(make_id_number(), "dibao")
    request_id = unique("req-")
    response = await settle(svc, hospital, bill_body(person), **{"X-Request-ID": request_id})
    assert response.status_code == 201
    assert svc.registry.calls[-1].headers["x-request-id"] == request_id
    setl_id = response.json()["setl_id"]
    await svc.client.post(
        f"/v1/settlements/{setl_id}/revoke",
        headers=hospital.headers(**{"X-Request-ID": request_id + "-r"}),
    )
    async with svc.app.state.ctx.db.read() as conn:
        rows = (
            await conn.execute(
                select(audit.c.action, audit.c.actor, audit.c.request_id, audit.c.detail)
                .where(audit.c.subject == setl_id)
                .order_by(audit.c.id)
            )
        ).all()
    assert [(r.action, r.actor, r.request_id) for r in rows] == [
        ("settle", f"hospital:{hospital.code}", request_id),
        ("revoke", f"hospital:{hospital.code}", request_id + "-r"),
    ]
    assert person not in "".join(r.detail for r in rows)


async def test_admission_records_eligibility_for_the_settle(svc: Service) -> None:
    hospital = await svc.hospital()
    person = svc.registry.add(make_id_number(), "registered_poor", "poor_disabled")
    visit_id = unique("ZY")
    admission = {
        "patient": {"id_number": person, "name": "李四"},
        "visit": {"visit_id": visit_id, "type": "inpatient", "admitted_on": "2026-02-01"},
    }
    response = await svc.client.post("/v1/admissions", json=admission, headers=hospital.headers())
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["deposit_free"] is True
    assert answer["patient"]["aid_class"] == "key"
    assert answer["patient"]["eligibility_on"] == "2026-02-01"
    assert answer["policy_version"] == "2020"
    limits = {(f["fund_pay_type"], f["visit_type"]): f for f in answer["limits"]}
    assert limits[("390200", None)]["remaining"] == "500000.00"
    assert svc.registry.calls[-1].url.params["on"] == "2026-02-01"

    # The same visit again: the first record (200); another patient on it: 409.
    again = await svc.client.post("/v1/admissions", json=admission, headers=hospital.headers())
    assert again.status_code == 200
    assert again.json()["recorded_at"] == answer["recorded_at"]
    stranger = json.loads(json.dumps(admission))
    stranger["patient"]["id_number"] = make_id_number()
    assert (
        await svc.client.post("/v1/admissions", json=stranger, headers=hospital.headers())
    ).status_code == 409

    # The person exits the poverty register before discharge; the settle uses the admission
    # and does not even need the registry.
    svc.registry.persons[person] = []
    svc.registry.mode = "down"
    body = bill_body(
        person,
        visit_id=visit_id,
        admitted_on="2026-02-01",
        discharged_on="2026-02-20",
        total="30000.00",
    )
    preview = await svc.client.post(
        "/v1/settlements/preview", json=body, headers=hospital.headers()
    )
    assert preview.status_code == 200, preview.text
    settled = await settle(svc, hospital, body)
    svc.registry.mode = "ok"
    assert settled.status_code == 201, settled.text
    bill = settled.json()
    assert bill["patient"]["aid_class"] == "key"
    assert bill["patient"]["eligibility_source"] == "admission"
    assert bill["patient"]["categories"] == ["registered_poor", "poor_disabled"]
    assert preview.json()["psn_cash_pay"] == bill["psn_cash_pay"]
    other_patient = bill_body(make_id_number(), visit_id=visit_id, admitted_on="2026-02-01")
    clash = await settle(svc, hospital, other_patient)
    assert clash.status_code == 409

    # An ordinary insured person: not deposit-free.
    plain = await svc.client.post(
        "/v1/admissions",
        json={
            "patient": {"id_number": make_id_number(), "name": "王五"},
            "visit": {"visit_id": unique("ZY"), "admitted_on": "2026-02-01"},
        },
        headers=hospital.headers(),
    )
    assert plain.status_code == 201
    assert plain.json()["deposit_free"] is False
    assert plain.json()["patient"]["aid_class"] == "none"


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


async def test_receipt_is_printable_and_self_contained(svc: Service) -> None:
    hospital = await svc.hospital()
    person = svc.registry.add(make_id_number(), "registered_poor")
    bill = (await settle(svc, hospital, bill_body(person, items=standard_items()))).json()
    response = await svc.client.get(
        f"/v1/settlements/{bill['setl_id']}/receipt", headers=hospital.headers()
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "一站式结算单" in html
    assert f"医院 {hospital.code}" in html
    assert bill["patient"]["id_number_masked"] in html
    assert person not in html
    assert "重点救助对象" in html
    assert "建档立卡贫困户" in html
    for name in ("medfee_sumamt", "fund_pay_sumamt", "psn_cash_pay", "hifp_pay", "maf_pay"):
        assert bill[name] in html
    for row in bill["setldetail"]:
        assert row["fund_pay_type_name"] in html
    assert "@page" in html
    assert "A4" in html
    assert "http://" not in html
    assert "https://" not in html
    assert "<script" not in html
    assert "头孢呋辛注射液" in html


async def test_outpatient_visit_defaults_discharge_to_visit_date(svc: Service) -> None:
    hospital = await svc.hospital(level=1)
    person = svc.registry.add(make_id_number(), "dibao")
    body = bill_body(
        person,
        visit_type="outpatient",
        admitted_on="2026-06-01",
        discharged_on=None,
        total="1000.00",
    )
    response = await settle(svc, hospital, body)
    assert response.status_code == 201, response.text
    bill = response.json()
    check_bill(bill)
    assert bill["discharged_on"] == "2026-06-01"
    assert bill["visit_type"] == "outpatient"
    # Outpatient terms of the sample policy: no deductible, 50 % of 1000.00 = 500.00, held to
    # the 300.00 outpatient annual cap; critical illness pays inpatient bills only; medical
    # assistance pays 70 % of the 700.00 left for a key assistance group (低保).
    assert bill["act_pay_dedc"] == "0.00"
    assert bill["hifp_pay"] == "300.00"
    assert bill["hifmi_pay"] == "0.00"
    assert bill["maf_pay"] == "490.00"
    assert bill["psn_cash_pay"] == "210.00"


async def test_hospital_registration_and_auth(svc: Service) -> None:
    code = unique("HOSP")
    response = await svc.client.post(
        "/v1/hospitals",
        json={"code": code, "name": "测试医院", "level": 3, "region_code": "370305"},
        headers=admin_headers(),
    )
    assert response.status_code == 201
    created = response.json()
    assert created["api_key"].startswith("mk_")
    assert created["level"] == 3
    duplicate = await svc.client.post(
        "/v1/hospitals",
        json={"code": code, "name": "测试医院", "level": 3, "region_code": "370305"},
        headers=admin_headers(),
    )
    assert duplicate.status_code == 409
    as_hospital = await svc.client.post(
        "/v1/hospitals",
        json={"code": unique("H"), "name": "x", "level": 1, "region_code": "370305"},
        headers={"Authorization": f"Bearer {created['api_key']}"},
    )
    assert as_hospital.status_code == 403
    body = bill_body(make_id_number())
    no_token = await svc.client.post("/v1/settlements", json=body, headers={"Idempotency-Key": "x"})
    assert no_token.status_code == 401
    assert no_token.headers["www-authenticate"] == "Bearer"
    wrong = await svc.client.post(
        "/v1/settlements",
        json=body,
        headers={"Idempotency-Key": "x", "Authorization": "Bearer mk_not-a-key"},
    )
    assert wrong.status_code == 401
    admin_settles = await svc.client.post(
        "/v1/settlements", json=body, headers={"Idempotency-Key": "x", **admin_headers()}
    )
    assert admin_settles.status_code == 403
    async with svc.app.state.ctx.db.read() as conn:
        stored = (
            await conn.execute(
                text("SELECT api_key_hash FROM hospitals WHERE code = :c"), {"c": code}
            )
        ).scalar_one()
    assert created["api_key"] not in stored


async def test_idempotency_key_is_required(svc: Service) -> None:
    hospital = await svc.hospital()
    response = await svc.client.post(
        "/v1/settlements", json=bill_body(make_id_number()), headers=hospital.headers()
    )
    assert response.status_code == 422
    assert fields_of(response) == ["header.Idempotency-Key"]
    too_long = await svc.client.post(
        "/v1/settlements", json=bill_body(make_id_number()), headers=hospital.headers("k" * 129)
    )
    assert too_long.status_code == 422


async def test_audit_log_is_append_only(svc: Service) -> None:
    hospital = await svc.hospital()
    person = svc.registry.add(make_id_number(), "dibao")
    await settle(svc, hospital, bill_body(person))
    db = svc.app.state.ctx.db
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.write() as conn:
                await conn.execute(text(statement))
