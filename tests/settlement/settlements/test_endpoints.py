"""The settlement API inside the process (registry mocked by respx), on SQLite and PostgreSQL:
settle, preview, revoke and query."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select

from settlement.audit.models import AuditRecord
from settlement.bills.models import BillRow
from settlement.database import table_of
from tests.settlement.conftest import (
    Service,
    bill_body,
    check_bill,
    fields_of,
    make_id_number,
    problem,
    settle,
    standard_items,
    unique,
    without_link,
)
from tests.support import ledger

bills = table_of(BillRow)
audit = table_of(AuditRecord)
LOCAL = timezone(timedelta(hours=8))


def today_local() -> str:
    return datetime.now(LOCAL).date().isoformat()


async def count_bills(svc: Service, **where: Any) -> int:
    async with svc.app.state.ctx.db.read() as conn:
        stmt = select(func.count()).select_from(bills)
        for name, value in where.items():
            stmt = stmt.where(bills.c[name] == value)
        return int((await conn.execute(stmt)).scalar_one())


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
    assert without_link(replay.json()) == without_link(bill)

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
    assert without_link(again_revoked.json()) == without_link(revoked.json())
    assert await ledger.stored_totals(svc.app.state.ctx.db, person, 2026) == {}

    # The original key still answers with that (now revoked) bill.
    replay = await settle(svc, hospital, body, "key-1")
    assert replay.status_code == 200
    assert replay.json()["status"] == "revoked"

    # After the revoke the visit can be settled again, under a new key.
    resettled = await settle(svc, hospital, body, "key-3")
    assert resettled.status_code == 201, resettled.text
    assert resettled.json()["setl_id"] != bill["setl_id"]
    assert resettled.json()["medfee_sumamt"] == bill["medfee_sumamt"]
    assert await ledger.person_problems(svc.app.state.ctx.db, person, 2026) == []


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
    assert await ledger.stored_totals(svc.app.state.ctx.db, person, 2026) == {}

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
    assert without_link(one.json()) == without_link(created[1])

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
    assert without_link(replay.json()) == without_link(first.json())


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
