"""Administrators see and work the flags: the list (JSON and CSV), the review workflow
(open → reviewed-ok / reviewed-recover, with a note and who, audited), and isolation: a
hospital sees its own bills' flags on the bill and the receipt, never another hospital's."""

from __future__ import annotations

import csv
import io
from typing import Any

from tests.settlement.conftest import Hospital, Service, admin_headers, fields_of, problem
from tests.settlement.supervision.conftest import (
    TODAY,
    days_ago,
    flags,
    outpatient,
    person,
    rule_codes,
    settled,
    stay,
)


async def readmitted(
    svc: Service, first: Hospital, second: Hospital
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A stay at ``first`` and a readmission three days later at ``second``."""
    patient = person(svc, "dibao")
    earlier = await settled(svc, first, stay(patient, days_ago(60), days_ago(55)))
    later = await settled(svc, second, stay(patient, days_ago(52), days_ago(50)))
    assert rule_codes(later) == ["READMIT-15"]
    return earlier, later


async def test_flags_list_filters_and_pages(svc: Service) -> None:
    one, two = await svc.hospital(), await svc.hospital()
    _, later = await readmitted(svc, one, two)
    patient = person(svc)
    for hospital in (one, two, one):
        same_day = await settled(svc, hospital, outpatient(patient, days_ago(3)))
    assert rule_codes(same_day) == ["OP-SAME-DAY"]

    mine = await flags(svc, hospital_code=two.code)
    assert [f["setl_id"] for f in mine] == [later["setl_id"]]
    flag = mine[0]
    assert flag["rule"] == "READMIT-15"
    assert flag["status"] == "open"
    assert flag["hospital_code"] == two.code
    assert flag["bill_status"] == "settled"
    assert flag["id_number_masked"].count("*") == 8
    # Administrators see the facts: the other stay, named.
    assert flag["detail"]["stays"][0]["gap_days"] == 3
    assert flag["setl_date"] == later["setl_date"]

    by_rule = await flags(svc, rule="OP-SAME-DAY", hospital_code=one.code)
    assert [f["setl_id"] for f in by_rule] == [same_day["setl_id"]]
    assert await flags(svc, hospital_code=one.code, status="reviewed-ok") == []

    page = await svc.client.get(
        "/v1/supervision/flags",
        params={"from": days_ago(1), "to": TODAY.isoformat(), "limit": 1},
        headers=admin_headers(),
    )
    assert page.status_code == 200
    assert len(page.json()["items"]) == 1
    assert page.json()["next_after"] is not None
    rest = await svc.client.get(
        "/v1/supervision/flags",
        params={"from": days_ago(1), "to": TODAY.isoformat(), "after": page.json()["next_after"]},
        headers=admin_headers(),
    )
    assert page.json()["items"][0]["id"] not in [f["id"] for f in rest.json()["items"]]


async def test_flags_as_csv_for_spreadsheets(svc: Service) -> None:
    one, two = await svc.hospital(), await svc.hospital()
    _, later = await readmitted(svc, one, two)
    response = await svc.client.get(
        "/v1/supervision/flags",
        params={"from": days_ago(1), "to": TODAY.isoformat(), "hospital_code": two.code},
        headers={**admin_headers(), "Accept": "text/csv"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 1
    assert rows[0]["setl_id"] == later["setl_id"]
    assert rows[0]["title"] == "同一主诊断 15 日内再次住院（疑似分解住院）"
    assert rows[0]["status"] == "open"
    assert rows[0]["medfee_sumamt"] == later["medfee_sumamt"]


async def test_flags_need_the_admin_token_and_a_sane_period(svc: Service) -> None:
    hospital = await svc.hospital()
    params = {"from": days_ago(1), "to": TODAY.isoformat()}
    response = await svc.client.get(
        "/v1/supervision/flags", params=params, headers=hospital.headers()
    )
    assert response.status_code == 403
    for bad, field in (
        ({"from": TODAY.isoformat(), "to": days_ago(1)}, "query.to"),
        ({"from": days_ago(400), "to": TODAY.isoformat()}, "query.to"),
        ({"from": "2026-13-01", "to": TODAY.isoformat()}, "query.from"),
        ({**params, "status": "closed"}, "query.status"),
    ):
        response = await svc.client.get(
            "/v1/supervision/flags", params=bad, headers=admin_headers()
        )
        assert response.status_code == 422, bad
        assert fields_of(response) == [field]


async def test_review_workflow(svc: Service) -> None:
    one, two = await svc.hospital(), await svc.hospital()
    _, later = await readmitted(svc, one, two)
    flag = (await flags(svc, hospital_code=two.code))[0]
    url = f"/v1/supervision/flags/{flag['id']}/review"

    for body, field in (
        ({"status": "closed", "reviewer": "王审核", "note": "x"}, "status"),
        ({"status": "reviewed-ok", "reviewer": "王审核"}, "note"),
        ({"status": "reviewed-ok", "reviewer": "", "note": "x"}, "reviewer"),
        ({"status": "open", "reviewer": "王审核", "note": "x"}, "status"),
    ):
        response = await svc.client.post(url, json=body, headers=admin_headers())
        assert response.status_code == 422, body
        assert fields_of(response) == [field]
    response = await svc.client.post(
        url, json={"status": "reviewed-ok", "reviewer": "x", "note": "x"}, headers=two.headers()
    )
    assert response.status_code == 403

    body = {
        "status": "reviewed-recover",
        "reviewer": "王审核",
        "note": "分解住院，追回第二次住院统筹支付",
    }
    response = await svc.client.post(url, json=body, headers=admin_headers())
    assert response.status_code == 200, response.text
    reviewed = response.json()
    assert reviewed["status"] == "reviewed-recover"
    assert reviewed["reviewed_by"] == "王审核"
    assert reviewed["review_note"] == body["note"]
    assert reviewed["reviewed_at"] is not None
    # A review is final.
    again = await svc.client.post(
        url, json={**body, "status": "reviewed-ok"}, headers=admin_headers()
    )
    assert again.status_code == 409
    assert problem(again)["status"] == "reviewed-recover"
    missing = await svc.client.post(
        "/v1/supervision/flags/999999999/review", json=body, headers=admin_headers()
    )
    assert missing.status_code == 404

    # The list and the hospital's bill say so; the review is in the audit trail.
    assert (await flags(svc, hospital_code=two.code, status="reviewed-recover"))[0]["id"] == flag[
        "id"
    ]
    assert await flags(svc, hospital_code=two.code, status="open") == []
    bill = await svc.client.get(f"/v1/settlements/{later['setl_id']}", headers=two.headers())
    assert bill.json()["flags"][0]["status"] == "reviewed-recover"
    from sqlalchemy import text

    async with svc.app.state.ctx.db.read() as conn:
        record = (
            await conn.execute(
                text(
                    "SELECT actor, detail FROM audit_log "
                    "WHERE action = 'flag.review' AND subject = :s"
                ),
                {"s": f"flag:{flag['id']}"},
            )
        ).one()
    assert record.actor == "admin"
    assert "王审核" in record.detail
    assert "reviewed-recover" in record.detail


async def test_a_hospital_never_sees_another_hospitals_flags(svc: Service) -> None:
    one, two = await svc.hospital(), await svc.hospital()
    earlier, later = await readmitted(svc, one, two)
    # The first hospital's bill has no flag; the second's flag does not name the first.
    own = await svc.client.get(f"/v1/settlements/{earlier['setl_id']}", headers=one.headers())
    assert own.json()["flags"] == []
    other = await svc.client.get(f"/v1/settlements/{later['setl_id']}", headers=one.headers())
    assert other.status_code == 404
    seen = await svc.client.get(f"/v1/settlements/{later['setl_id']}", headers=two.headers())
    text_seen = str(seen.json()["flags"])
    assert earlier["setl_id"] not in text_seen
    assert one.code not in text_seen
    assert earlier["visit_id"] not in text_seen
    # Nor through the list of a day, the receipt, or the flags API.
    listing = await svc.client.get(
        "/v1/settlements", params={"date": later["setl_date"]}, headers=one.headers()
    )
    assert all(b["flags"] == [] for b in listing.json()["items"])
    own_list = await svc.client.get(
        "/v1/settlements", params={"date": later["setl_date"]}, headers=two.headers()
    )
    assert [
        rule_codes(b) for b in own_list.json()["items"] if b["setl_id"] == later["setl_id"]
    ] == [["READMIT-15"]]
    receipt = await svc.client.get(
        f"/v1/settlements/{later['setl_id']}/receipt", headers=one.headers()
    )
    assert receipt.status_code == 404
    api = await svc.client.get(
        "/v1/supervision/flags",
        params={"from": days_ago(1), "to": TODAY.isoformat()},
        headers=one.headers(),
    )
    assert api.status_code == 403


async def test_the_receipt_shows_the_bills_flags(svc: Service) -> None:
    one, two = await svc.hospital(), await svc.hospital()
    earlier, later = await readmitted(svc, one, two)
    receipt = await svc.client.get(
        f"/v1/settlements/{later['setl_id']}/receipt", headers=two.headers()
    )
    assert receipt.status_code == 200
    assert 'id="flags"' in receipt.text
    assert "智能审核提示" in receipt.text
    assert "同一主诊断 15 日内再次住院（疑似分解住院）" in receipt.text
    assert earlier["setl_id"] not in receipt.text
    clean = await svc.client.get(
        f"/v1/settlements/{earlier['setl_id']}/receipt", headers=one.headers()
    )
    assert 'id="flags"' not in clean.text
