"""Admissions: the eligibility recorded at admission is the one the settle uses, on SQLite and
PostgreSQL."""

from __future__ import annotations

import json

from tests.settlement.conftest import Service, bill_body, make_id_number, settle, unique


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
