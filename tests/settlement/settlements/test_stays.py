"""One stay at a time across hospitals; a long stay settled in interim parts or from fee
details uploaded in batches pays what one bill would (one deductible per admission)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.settlement.conftest import (
    MONEY_FIELDS,
    Service,
    bill_body,
    check_bill,
    make_id_number,
    unique,
)

CHOLECYSTECTOMY = [
    {
        "code": "331001",
        "name": "胆囊切除术",
        "category": "A",
        "unit_price": "6000.00",
        "quantity": 1,
    },
    {"code": "310100001", "name": "床位费", "category": "A", "unit_price": "60.00", "quantity": 7},
]


def nursing_lines(first: int, count: int) -> list[dict[str, Any]]:
    """``count`` lines ``FC04nnnnn`` 护理及耗材, category A, 10.00 each."""
    return [
        {
            "code": f"FC04{n:05d}",
            "name": "护理及耗材",
            "category": "A",
            "unit_price": "10.00",
            "quantity": 1,
        }
        for n in range(first, first + count)
    ]


async def post(svc: Service, hospital: Any, body: dict[str, Any]) -> Any:
    return await svc.client.post(
        "/v1/settlements", json=body, headers=hospital.headers(unique("K"))
    )


def stay(
    person: str, visit_id: str, admitted: str, discharged: str, items: Any, **visit: Any
) -> dict[str, Any]:
    body = bill_body(
        person, visit_id=visit_id, admitted_on=admitted, discharged_on=discharged, items=items
    )
    body["visit"].update(visit)
    return body


# ----------------------------------------------------------------------------- one stay at a time


async def test_one_stay_is_billed_once_across_hospitals(svc: Service) -> None:
    # The values: the same stay settled again under another visit id, and again at a
    # level-3 hospital; all three answered 201 before (17,398.85 of fund money in all).
    level2 = await svc.hospital(level=2)
    level3 = await svc.hospital(level=3)
    person = svc.registry.add("370305196808260497", "registered_poor")
    first = await post(
        svc, level2, stay(person, "ZY-FC13-0001", "2026-09-01", "2026-09-08", CHOLECYSTECTOMY)
    )
    assert first.status_code == 201, first.text
    setl_id = first.json()["setl_id"]

    again = await post(
        svc, level2, stay(person, "ZY-FC13-0001R", "2026-09-01", "2026-09-08", CHOLECYSTECTOMY)
    )
    assert again.status_code == 409, again.text
    assert again.json()["setl_id"] == setl_id
    assert "ZY-FC13-0001" in again.json()["detail"]

    elsewhere = await post(
        svc, level3, stay(person, "ZY-FC13-0001", "2026-09-01", "2026-09-08", CHOLECYSTECTOMY)
    )
    assert elsewhere.status_code == 409, elsewhere.text
    problem = elsewhere.json()
    assert "setl_id" not in problem
    assert setl_id not in problem["detail"]
    assert "another designated hospital" in problem["detail"]
    assert "2026-09-01" in problem["detail"]
    assert "2026-09-08" in problem["detail"]

    # Only the first bill's fund money was paid.
    acc = await svc.client.get(f"/v1/persons/{person}/accumulators", headers=level2.headers())
    assert acc.json()["settled_bills"] == 1


async def test_a_transfer_and_outpatient_visits_are_not_overlaps(svc: Service) -> None:
    here, there = await svc.hospital(level=2), await svc.hospital(level=3)
    person = svc.registry.add(make_id_number(), "dibao")
    assert (
        await post(
            svc, here, stay(person, unique("V"), "2026-09-01", "2026-09-08", CHOLECYSTECTOMY)
        )
    ).status_code == 201
    # 转院: discharged on the 8th, admitted elsewhere the same day.
    transfer = await post(
        svc, there, stay(person, unique("V"), "2026-09-08", "2026-09-15", CHOLECYSTECTOMY)
    )
    assert transfer.status_code == 201, transfer.text
    outpatient = bill_body(
        person, visit_type="outpatient", admitted_on="2026-09-03", discharged_on=None
    )
    assert (await post(svc, here, outpatient)).status_code == 201


async def test_a_revoked_stay_frees_the_dates_and_admission_overlaps_are_refused(
    svc: Service,
) -> None:
    here, there = await svc.hospital(level=2), await svc.hospital(level=3)
    person = svc.registry.add(make_id_number(), "dibao")
    first = await post(
        svc, here, stay(person, unique("V"), "2026-09-01", "2026-09-08", CHOLECYSTECTOMY)
    )
    admission = {
        "patient": {"id_number": person, "name": "张三"},
        "visit": {"visit_id": unique("A"), "type": "inpatient", "admitted_on": "2026-09-03"},
    }
    refused = await svc.client.post("/v1/admissions", json=admission, headers=there.headers())
    assert refused.status_code == 409, refused.text
    assert "another designated hospital" in refused.json()["detail"]

    revoked = await svc.client.post(
        f"/v1/settlements/{first.json()['setl_id']}/revoke", headers=here.headers()
    )
    assert revoked.status_code == 200
    admitted = await svc.client.post("/v1/admissions", json=admission, headers=there.headers())
    assert admitted.status_code == 201, admitted.text
    body = stay(person, admission["visit"]["visit_id"], "2026-09-03", "2026-09-06", CHOLECYSTECTOMY)
    assert (await post(svc, there, body)).status_code == 201


async def test_two_hospitals_settling_overlapping_stays_at_once_one_wins(svc: Service) -> None:
    hospitals = [await svc.hospital(level=2) for _ in range(4)]
    person = svc.registry.add(make_id_number(), "registered_poor")
    bodies = [
        stay(person, unique("V"), f"2026-10-0{1 + i}", f"2026-10-1{i}", CHOLECYSTECTOMY)
        for i in range(4)
    ]
    answers = await asyncio.gather(
        *(post(svc, h, b) for h, b in zip(hospitals, bodies, strict=True))
    )
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409], [a.text for a in answers]
    winner, at = next(
        (a.json(), h) for a, h in zip(answers, hospitals, strict=True) if a.status_code == 201
    )
    acc = await svc.client.get(f"/v1/persons/{person}/accumulators", headers=at.headers())
    assert acc.json()["settled_bills"] == 1
    assert Decimal(acc.json()["funds"][0]["paid_this_year"]) > 0
    assert winner["patient"]["aid_class"] == "key"


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(stays=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 6)), min_size=1, max_size=6))
async def test_settled_stays_never_overlap(
    sqlite_svc: Service, stays: list[tuple[int, int]]
) -> None:
    """Property: whatever stays are sent, the settled ones are pairwise disjoint, and each one
    refused overlaps a settled one (transfers and zero-night stays never conflict)."""
    svc = sqlite_svc
    hospital = await svc.hospital(level=2)
    person = svc.registry.add(make_id_number(), "dibao")
    settled: list[tuple[int, int]] = []
    for start, nights in stays:
        admitted, discharged = f"2026-06-{start % 20 + 1:02d}", start % 20 + 1 + nights
        body = stay(person, unique("V"), admitted, f"2026-06-{discharged:02d}", CHOLECYSTECTOMY[:1])
        answer = await post(svc, hospital, body)
        span = (start % 20 + 1, discharged)
        overlaps = [
            s
            for s in settled
            if s[0] < s[1] and span[0] < span[1] and s[0] < span[1] and span[0] < s[1]
        ]
        if answer.status_code == 201:
            assert not overlaps
            settled.append(span)
        else:
            assert answer.status_code == 409, answer.text
            assert overlaps


# ----------------------------------------------------------------------------- a stay in parts


def whole_of(answers: list[dict[str, Any]]) -> dict[str, Decimal]:
    return {name: sum((Decimal(a[name]) for a in answers), Decimal(0)) for name in MONEY_FIELDS}


async def test_a_long_stay_in_interim_parts_pays_one_deductible(svc: Service) -> None:
    # The values: 2,400 lines of 10.00 at level 2 for a key person, 2026-07-01 →
    # 08-29. One bill is refused (more than 2,000 lines); two visit ids charged the
    # deductible twice (500) and the patient 1,850.62. One admission in two parts: 250, and
    # the patient pays 1,825.31 — exactly what one bill of every line gives.
    hospital = await svc.hospital(level=2)
    person = svc.registry.add("370305196211190473", "registered_poor")
    visit_id = "ZY-FC04-0001"
    too_many = stay(person, visit_id, "2026-07-01", "2026-08-29", nursing_lines(0, 2400))
    refused = await post(svc, hospital, too_many)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "items"

    first = await post(
        svc,
        hospital,
        stay(person, visit_id, "2026-07-01", "2026-07-31", nursing_lines(0, 1200), interim=True),
    )
    assert first.status_code == 201, first.text
    last = await post(
        svc, hospital, stay(person, visit_id, "2026-07-01", "2026-08-29", nursing_lines(1200, 1200))
    )
    assert last.status_code == 201, last.text
    parts = [first.json(), last.json()]
    for part in parts:
        check_bill(part)
    total = whole_of(parts)
    assert total["act_pay_dedc"] == Decimal("250.00")
    assert total["psn_cash_pay"] == Decimal("1825.31")
    assert total["medfee_sumamt"] == Decimal("24000.00")
    # The same lines as one bill, previewed for another key person with the same totals: the
    # sum of every setlinfo amount over the parts, to the fen.
    other = svc.registry.add(make_id_number(), "registered_poor")
    whole = await one_bill_preview(svc, hospital, other, nursing_lines(0, 2400))
    assert {name: Decimal(whole[name]) for name in MONEY_FIELDS} == total

    # A visit with its final bill takes no more parts; an interim part is not revoked before
    # the later ones.
    more = await post(
        svc, hospital, stay(person, visit_id, "2026-07-01", "2026-08-29", nursing_lines(3000, 1))
    )
    assert more.status_code == 409
    early = await svc.client.post(
        f"/v1/settlements/{parts[0]['setl_id']}/revoke", headers=hospital.headers()
    )
    assert early.status_code == 409
    assert early.json()["setl_ids"] == [parts[1]["setl_id"]]
    for part in reversed(parts):
        response = await svc.client.post(
            f"/v1/settlements/{part['setl_id']}/revoke", headers=hospital.headers()
        )
        assert response.status_code == 200, response.text
    acc = await svc.client.get(f"/v1/persons/{person}/accumulators", headers=hospital.headers())
    assert acc.json()["totals"] == {}


async def one_bill_preview(
    svc: Service, hospital: Any, person: str, lines: list[dict[str, Any]]
) -> dict[str, Any]:
    """The preview of one visit holding ``lines`` (uploaded in batches of 800)."""
    visit_id = unique("V")
    for start in range(0, len(lines), 800):
        response = await svc.client.post(
            f"/v1/visits/{visit_id}/fee-details",
            json={"items": lines[start : start + 800]},
            headers=hospital.headers(),
        )
        assert response.status_code == 201, response.text
    body = stay(person, visit_id, "2026-07-01", "2026-08-29", None)
    del body["items"]
    response = await svc.client.post(
        "/v1/settlements/preview", json=body, headers=hospital.headers()
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_fee_details_in_batches_settle_as_one_bill(svc: Service) -> None:
    hospital = await svc.hospital(level=2)
    person = svc.registry.add(make_id_number(), "registered_poor")
    visit_id = unique("ZY")
    lines = nursing_lines(0, 2400)
    for start in range(0, 2400, 800):
        batch = [
            {**line, "feedetl_sn": f"SN{start + i:05d}"}
            for i, line in enumerate(lines[start : start + 800])
        ]
        response = await svc.client.post(
            f"/v1/visits/{visit_id}/fee-details", json={"items": batch}, headers=hospital.headers()
        )
        assert response.status_code == 201, response.text
    assert response.json()["open_lines"] == 2400
    # A serial sent again is refused; a withdrawn line is not settled.
    again = await svc.client.post(
        f"/v1/visits/{visit_id}/fee-details",
        json={"items": [{**lines[0], "feedetl_sn": "SN00000"}]},
        headers=hospital.headers(),
    )
    assert again.status_code == 409
    assert "SN00000" in again.json()["detail"]
    extra = {**lines[0], "code": "FC09", "feedetl_sn": "EXTRA", "unit_price": "999.00"}
    await svc.client.post(
        f"/v1/visits/{visit_id}/fee-details", json={"items": [extra]}, headers=hospital.headers()
    )
    withdrawn = await svc.client.delete(
        f"/v1/visits/{visit_id}/fee-details",
        params={"feedetl_sn": ["EXTRA"]},
        headers=hospital.headers(),
    )
    assert withdrawn.json()["withdrawn"] == ["EXTRA"]
    assert withdrawn.json()["open_lines"] == 2400

    body = stay(person, visit_id, "2026-07-01", "2026-08-29", None)
    del body["items"]
    preview = await svc.client.post(
        "/v1/settlements/preview", json=body, headers=hospital.headers()
    )
    settled = await post(svc, hospital, body)
    assert settled.status_code == 201, settled.text
    bill = settled.json()
    check_bill(bill)
    assert bill["psn_cash_pay"] == "1825.31"
    assert bill["act_pay_dedc"] == "250.00"
    assert {n: bill[n] for n in MONEY_FIELDS} == {n: preview.json()[n] for n in MONEY_FIELDS}
    listing = await svc.client.get(f"/v1/visits/{visit_id}/fee-details", headers=hospital.headers())
    assert listing.json()["open_lines"] == 0
    assert {line["setl_id"] for line in listing.json()["lines"]} == {bill["setl_id"]}
    # Nothing left to settle: a clear 422 naming items.
    nothing = await post(svc, hospital, body)
    assert nothing.status_code in (409, 422)
    # A revoke reopens the lines.
    await svc.client.post(f"/v1/settlements/{bill['setl_id']}/revoke", headers=hospital.headers())
    listing = await svc.client.get(f"/v1/visits/{visit_id}/fee-details", headers=hospital.headers())
    assert listing.json()["open_lines"] == 2400


async def test_a_further_part_must_be_the_same_stay(svc: Service) -> None:
    hospital = await svc.hospital(level=2)
    person = svc.registry.add(make_id_number(), "registered_poor")
    visit_id = unique("ZY")
    first = await post(
        svc,
        hospital,
        stay(person, visit_id, "2026-05-01", "2026-05-10", nursing_lines(0, 10), interim=True),
    )
    assert first.status_code == 201, first.text
    as_outpatient = bill_body(
        person, visit_id=visit_id, visit_type="outpatient", discharged_on=None
    )
    as_outpatient["visit"]["admitted_on"] = "2026-05-12"
    refused = await post(svc, hospital, as_outpatient)
    assert refused.status_code == 409, refused.text
    assert refused.json()["setl_id"] == first.json()["setl_id"]
    moved = await post(
        svc, hospital, stay(person, visit_id, "2026-05-02", "2026-05-20", nursing_lines(10, 5))
    )
    assert moved.status_code == 409
    assert "admitted on 2026-05-01" in moved.json()["detail"]
