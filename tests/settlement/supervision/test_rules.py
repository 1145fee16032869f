"""Each shipped supervision rule at a settle, on SQLite and PostgreSQL: a case where it fires
(the bill is settled all the same and carries the flag) and cases where it does not."""

from __future__ import annotations

from typing import Any

from tests.settlement.conftest import Service, admin_headers, fields_of, problem
from tests.settlement.supervision.conftest import (
    days_ago,
    outpatient,
    person,
    rule_codes,
    settled,
    stay,
)


def bed_days(
    quantity: int | str, *, code: str = "110200001", name: str = "床位费"
) -> dict[str, Any]:
    return {
        "code": code,
        "name": name,
        "category": "A",
        "unit_price": "60.00",
        "quantity": quantity,
    }


# --- quantity beyond the stay ----------------------------------------------------------------


async def test_bed_days_above_the_stay_plus_one_are_flagged(svc: Service) -> None:
    hospital = await svc.hospital()
    patient = person(svc, "dibao")
    # A four-day stay (admitted 10 days ago, discharged 6 days ago): 4 + 1 = 5 bed-days allowed.
    bill = await settled(
        svc, hospital, stay(patient, days_ago(10), days_ago(6), items=[bed_days(6)])
    )
    assert bill["status"] == "settled"
    assert rule_codes(bill) == ["QTY-STAY"]
    flag = bill["flags"][0]
    assert flag["field"] == "items[0].quantity"
    assert flag["status"] == "open"
    assert flag["severity"] == "high"
    assert "床位费" in flag["message"]
    assert "住院 4 天" in flag["message"]
    # The flag is stored with the bill: the query answers it too.
    again = await svc.client.get(f"/v1/settlements/{bill['setl_id']}", headers=hospital.headers())
    assert again.json()["flags"] == bill["flags"]


async def test_bed_days_within_the_stay_plus_one_are_not_flagged(svc: Service) -> None:
    hospital = await svc.hospital()
    patient = person(svc, "dibao")
    bill = await settled(
        svc,
        hospital,
        stay(
            patient,
            days_ago(30),
            days_ago(26),
            items=[bed_days(5), bed_days(5, code="120100001", name="一级护理费")],
        ),
    )
    assert bill["flags"] == []


async def test_nursing_fees_match_by_name_and_every_item_over_is_named(svc: Service) -> None:
    hospital = await svc.hospital()
    patient = person(svc)
    bill = await settled(
        svc,
        hospital,
        stay(
            patient,
            days_ago(40),
            days_ago(38),
            items=[
                bed_days(3),  # 2 days + 1: allowed
                bed_days(9, code="120100002", name="特级护理费"),
                bed_days(4, code="110200002", name="层流病房床位费"),
            ],
        ),
    )
    assert rule_codes(bill) == ["QTY-STAY"]
    assert bill["flags"][0]["field"] == "items[1].quantity"
    assert "等 2 项" in bill["flags"][0]["message"]


async def test_the_issues_99999999_bed_days_are_refused_and_the_largest_quantity_is_flagged(
    svc: Service,
) -> None:
    hospital = await svc.hospital()
    patient = person(svc, "dibao")
    body = stay(patient, days_ago(50), days_ago(46), items=[bed_days(99_999_999)])
    response = await svc.client.post(
        "/v1/settlements", json=body, headers=hospital.headers("qty-99999999")
    )
    assert response.status_code == 422
    assert fields_of(response) == ["items[0].quantity"]
    body = stay(patient, days_ago(50), days_ago(46), items=[bed_days(100_000)])
    bill = await settled(svc, hospital, body)
    assert rule_codes(bill) == ["QTY-STAY"]
    assert "100000" in bill["flags"][0]["message"]


async def test_quantity_rule_counts_every_interim_part_of_the_stay(svc: Service) -> None:
    hospital = await svc.hospital()
    patient = person(svc)
    visit = "ZY-INTERIM-QTY-" + svc.backend
    first = stay(patient, days_ago(70), days_ago(66), items=[bed_days(4)], visit_id=visit)
    first["visit"]["interim"] = True
    part = await settled(svc, hospital, first)
    assert part["flags"] == []
    # Settled up to 62 days ago: an 8-day stay so far, 9 bed-days allowed, 4 + 6 billed.
    last = stay(patient, days_ago(70), days_ago(62), items=[bed_days(6)], visit_id=visit)
    bill = await settled(svc, hospital, last)
    assert rule_codes(bill) == ["QTY-STAY"]
    assert "计费数量 10" in bill["flags"][0]["message"]


# --- readmission ---------------------------------------------------------------------------


async def test_readmission_for_the_same_diagnosis_within_15_days_at_another_hospital(
    svc: Service,
) -> None:
    first_hospital, second_hospital = await svc.hospital(), await svc.hospital()
    patient = person(svc, "registered_poor")
    earlier = await settled(
        svc, first_hospital, stay(patient, days_ago(100), days_ago(90), diagnosis="J18.900")
    )
    assert earlier["flags"] == []
    # Discharged 90 days ago, readmitted 87 days ago (3 days later) for J18.1: same category J18.
    bill = await settled(
        svc, second_hospital, stay(patient, days_ago(87), days_ago(80), diagnosis="J18.1")
    )
    assert rule_codes(bill) == ["READMIT-15"]
    flag = bill["flags"][0]
    assert flag["field"] == "visit.admitted_on"
    assert "J18" in flag["message"]
    assert "3 天" in flag["message"]
    # The other hospital's bill is not named to this hospital.
    assert earlier["setl_id"] not in flag["message"]
    assert first_hospital.code not in flag["message"]
    assert "其他定点医疗机构" in flag["message"]


async def test_readmission_after_the_window_or_for_another_diagnosis_is_not_flagged(
    svc: Service,
) -> None:
    hospital = await svc.hospital()
    patient = person(svc)
    await settled(svc, hospital, stay(patient, days_ago(200), days_ago(190), diagnosis="I21.9"))
    # 16 days after the discharge: outside the 15-day window.
    late = await settled(
        svc, hospital, stay(patient, days_ago(174), days_ago(170), diagnosis="I21.0")
    )
    assert late["flags"] == []
    # 2 days after that discharge, but another diagnosis (K35 appendicitis).
    other = await settled(
        svc, hospital, stay(patient, days_ago(168), days_ago(165), diagnosis="K35.8")
    )
    assert other["flags"] == []
    # 15 days exactly is inside.
    inside = await settled(
        svc, hospital, stay(patient, days_ago(150), days_ago(149), diagnosis="K35.2")
    )
    assert rule_codes(inside) == ["READMIT-15"]


async def test_a_transfer_is_not_a_readmission_but_a_same_day_return_is(svc: Service) -> None:
    first_hospital, second_hospital = await svc.hospital(), await svc.hospital()
    patient = person(svc)
    await settled(svc, first_hospital, stay(patient, days_ago(300), days_ago(295)))
    # Admitted elsewhere on the day of discharge: a transfer.
    transfer = await settled(svc, second_hospital, stay(patient, days_ago(295), days_ago(290)))
    assert transfer["flags"] == []
    # Discharged and readmitted the same day at the same hospital: 分解住院.
    back = await settled(svc, second_hospital, stay(patient, days_ago(290), days_ago(285)))
    assert rule_codes(back) == ["READMIT-15"]
    assert "本院" in back["flags"][0]["message"]


async def test_a_revoked_stay_does_not_count(svc: Service) -> None:
    hospital = await svc.hospital()
    patient = person(svc)
    first = await settled(svc, hospital, stay(patient, days_ago(400), days_ago(395)))
    revoked = await svc.client.post(
        f"/v1/settlements/{first['setl_id']}/revoke", headers=hospital.headers()
    )
    assert revoked.status_code == 200
    bill = await settled(svc, hospital, stay(patient, days_ago(392), days_ago(390)))
    assert bill["flags"] == []


async def test_a_stay_settled_late_is_flagged_against_the_later_one(svc: Service) -> None:
    hospital = await svc.hospital()
    patient = person(svc)
    later = await settled(svc, hospital, stay(patient, days_ago(500), days_ago(495)))
    assert later["flags"] == []
    # The earlier stay is settled afterwards; it was discharged 4 days before the later one.
    earlier = await settled(svc, hospital, stay(patient, days_ago(510), days_ago(504)))
    assert rule_codes(earlier) == ["READMIT-15"]
    assert earlier["flags"][0]["field"] == "visit.discharged_on"


# --- same-day outpatient ------------------------------------------------------------------


async def test_outpatient_bills_at_several_hospitals_on_one_day(svc: Service) -> None:
    one, two = await svc.hospital(), await svc.hospital()
    patient = person(svc, "dibao")
    day = days_ago(5)
    first = await settled(svc, one, outpatient(patient, day))
    second = await settled(svc, two, outpatient(patient, day))
    assert first["flags"] == []
    assert second["flags"] == []
    third = await settled(svc, one, outpatient(patient, day))
    assert rule_codes(third) == ["OP-SAME-DAY"]
    assert "2 家" in third["flags"][0]["message"]
    assert "3 次" in third["flags"][0]["message"]
    # Another day starts again.
    assert (await settled(svc, one, outpatient(patient, days_ago(4))))["flags"] == []


async def test_outpatient_bills_at_one_hospital_are_not_flagged(svc: Service) -> None:
    hospital = await svc.hospital()
    patient = person(svc)
    day = days_ago(7)
    for _ in range(4):
        bill = await settled(svc, hospital, outpatient(patient, day))
        assert bill["flags"] == []


# --- a rule set to refuse ----------------------------------------------------------------

REFUSING = """
version = "test-refuse"

[[rules]]
code = "QTY-REFUSE"
kind = "quantity_beyond_stay"
title = "按日计费项目数量超过住院天数"
severity = "high"
action = "refuse"
codes = ["X-BED"]
extra_days = 1

[[rules]]
code = "READMIT-OFF"
kind = "readmission"
title = "再次住院"
severity = "low"
enabled = false
"""


async def test_a_refusing_rule_is_a_422_naming_the_rule_and_nothing_is_written(
    rules_app: Any, svc: Service
) -> None:
    app: Service = await rules_app("refuse", svc.backend, REFUSING)
    hospital = await app.hospital()
    patient = person(app, "dibao")
    db = app.app.state.ctx.db

    async def count(table: str) -> int:
        from sqlalchemy import text

        async with db.read() as conn:
            return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())

    before = {
        t: await count(t) for t in ("bills", "audit_log", "supervision_flags", "accumulators")
    }
    # Matched by the code list (the name says nothing about beds).
    item = bed_days(9, code="X-BED", name="病房")
    body = stay(patient, days_ago(20), days_ago(17), items=[item])
    response = await app.client.post(
        "/v1/settlements", json=body, headers=hospital.headers("refuse-1")
    )
    assert response.status_code == 422
    body_out = problem(response)
    assert body_out["rule"] == "QTY-REFUSE"
    assert body_out["errors"][0]["field"] == "items[0].quantity"
    assert body_out["errors"][0]["rule"] == "QTY-REFUSE"
    assert "QTY-REFUSE" in body_out["errors"][0]["message"]
    assert "按日计费项目数量超过住院天数" in body_out["errors"][0]["message"]
    after = {t: await count(t) for t in before}
    assert after == before
    # Within the stay the same rule lets the bill through; a disabled rule never fires.
    ok = await settled(
        app,
        hospital,
        stay(patient, days_ago(20), days_ago(17), items=[bed_days(4, code="X-BED", name="病房")]),
    )
    assert ok["flags"] == []
    again = await settled(app, hospital, stay(patient, days_ago(16), days_ago(15)))
    assert again["flags"] == []  # READMIT-OFF is disabled


REFUSING_SAME_DAY = """
version = "test-refuse-same-day"

[[rules]]
code = "SAMEDAY-REFUSE"
kind = "same_day_outpatient"
title = "同日多院门诊"
severity = "high"
action = "refuse"
min_hospitals = 1
max_bills = 1
"""


async def test_a_retry_answers_its_bill_though_a_refusing_rule_now_counts_it(
    rules_app: Any, svc: Service
) -> None:
    """The rules run before the bill is written and read the person's settled bills; a
    retry (same key, same body) sees the bill it repeats among them. It answers that bill
    (200), not the rule's 422; a new bill of that day is refused."""
    app: Service = await rules_app("refuse-same-day", svc.backend, REFUSING_SAME_DAY)
    hospital = await app.hospital()
    patient = person(app, "dibao")
    body = outpatient(patient, days_ago(3))
    first = await app.client.post("/v1/settlements", json=body, headers=hospital.headers("sd-1"))
    assert first.status_code == 201, first.text
    again = await app.client.post("/v1/settlements", json=body, headers=hospital.headers("sd-1"))
    assert again.status_code == 200, again.text
    assert again.json()["setl_id"] == first.json()["setl_id"]
    other = outpatient(patient, days_ago(3))
    refused = await app.client.post("/v1/settlements", json=other, headers=hospital.headers("sd-2"))
    assert refused.status_code == 422
    assert problem(refused)["rule"] == "SAMEDAY-REFUSE"


async def test_rules_endpoint_lists_the_rules(svc: Service) -> None:
    response = await svc.client.get("/v1/supervision/rules", headers=admin_headers())
    assert response.status_code == 200
    rules = {r["code"]: r for r in response.json()["rules"]}
    assert rules["QTY-STAY"]["parameters"]["name_patterns"] == ["床位费", "护理费"]
    assert rules["READMIT-15"]["parameters"]["window_days"] == 15
    assert rules["READMIT-15"]["parameters"]["diagnosis_chars"] == 3
    assert rules["ITEM-OUTLIER"]["kind"] == "item_outlier"
    assert rules["M-KEY-SHARE"]["per_bill"] is False
