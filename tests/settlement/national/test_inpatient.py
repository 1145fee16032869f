"""A whole inpatient stay through the envelope: 2401 admission, two 2301 upload batches (one
line withdrawn with 2302), an interim settlement (2303 / 2304 with ``mid_setl_flag`` 1), 2402
discharge, the final part, and 2305 revokes; every amount compared with the native API's
preview of the same lines."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from tests.settlement.conftest import MONEY_FIELDS, Service, make_id_number
from tests.settlement.national.conftest import feedetail, his_of, today
from tests.settlement.national.test_outpatient import same_amounts
from tests.support import ledger

FIRST_BATCH: list[dict[str, Any]] = [
    {"code": "310100001", "name": "床位费", "category": "A", "unit_price": "60.00", "quantity": 5},
    {
        "code": "XJ01CAA",
        "name": "头孢呋辛注射液",
        "category": "B",
        "unit_price": "38.50",
        "quantity": 10,
        "self_pay_ratio": "0.10",
    },
    {"code": "330100", "name": "手术费", "category": "A", "unit_price": "18000.00", "quantity": 1},
]
SECOND_BATCH: list[dict[str, Any]] = [
    {"code": "310100001", "name": "床位费", "category": "A", "unit_price": "60.00", "quantity": 4},
    {
        "code": "XJ01CAA",
        "name": "头孢呋辛注射液",
        "category": "B",
        "unit_price": "38.50",
        "quantity": 8,
        "self_pay_ratio": "0.10",
    },
    {"code": "Z0001", "name": "营养餐", "category": "C", "unit_price": "25.00", "quantity": 9},
]
WITHDRAWN = {
    "code": "250301",
    "name": "CT检查",
    "category": "A",
    "unit_price": "280.00",
    "quantity": 1,
}


def total(lines: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(line["unit_price"]) * line["quantity"] for line in lines), Decimal(0))


async def native_preview(
    svc: Service, his: Any, person: str, visit: dict[str, Any], lines: list[dict[str, Any]]
) -> dict[str, Any]:
    response = await svc.client.post(
        "/v1/settlements/preview",
        json={"patient": {"id_number": person, "name": "张三"}, "visit": visit, "items": lines},
        headers=his.hospital.headers(),
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_an_inpatient_stay_through_the_envelope(nsvc: Service) -> None:
    his = await his_of(nsvc, level=2)
    person = nsvc.registry.add(make_id_number(), "registered_poor")
    admitted = today() - timedelta(days=9)
    psn_no, mdtrt_id = await his.admit(person, on=admitted, diagnoses=["J18.900", "I10"])

    first = await his.ok("2301", feedetail(mdtrt_id, psn_no, FIRST_BATCH, batch="1"))
    assert len(first["result"]) == 3

    visit = {
        "visit_id": mdtrt_id,
        "type": "inpatient",
        "admitted_on": admitted.isoformat(),
        "discharged_on": today().isoformat(),
        "diagnoses": ["J18.900", "I10"],
    }
    interim_input = {
        "data": {
            "psn_no": psn_no,
            "mdtrt_cert_type": "02",
            "mdtrt_cert_no": person,
            "medfee_sumamt": float(total(FIRST_BATCH)),
            "psn_setlway": "01",
            "mdtrt_id": mdtrt_id,
            "insutype": "390",
            "acct_used_flag": "0",
            "mid_setl_flag": "1",
        }
    }
    expected_interim = await native_preview(
        nsvc, his, person, {**visit, "interim": True}, FIRST_BATCH
    )
    assert Decimal(expected_interim["act_pay_dedc"]) == Decimal("250.00")  # key: half of 500
    same_amounts(await his.ok("2303", interim_input), expected_interim)
    interim = await his.ok("2304", interim_input)
    same_amounts(interim, expected_interim)
    assert interim["setlinfo"]["mid_setl_flag"] == "1"

    # The second batch, with a line withdrawn before the discharge.
    second = feedetail(
        mdtrt_id, psn_no, [*SECOND_BATCH, {**WITHDRAWN, "feedetl_sn": "2-CT"}], batch="2"
    )
    await his.ok("2301", second)
    gone = await his.ok("2302", {"data": {"feedetl_sn": "2-CT", "mdtrt_id": mdtrt_id}})
    assert gone["result"] == [{"feedetl_sn": "2-CT"}]
    settled_line = await his.fail("2302", {"data": {"feedetl_sn": "1-0001", "mdtrt_id": mdtrt_id}})
    assert "费用明细流水号(data.feedetl_sn)" in settled_line

    discharged = await his.ok(
        "2402",
        {
            "dscginfo": {
                "mdtrt_id": mdtrt_id,
                "psn_no": psn_no,
                "insutype": "390",
                "endtime": f"{today().isoformat()} 10:00:00",
                "dscg_way": "1",
            },
            "diseinfo": [
                {"diag_code": "I10", "maindiag_flag": "0", "diag_srt_no": "2"},
                {"diag_code": "J18.900", "maindiag_flag": "1", "diag_srt_no": "1"},
            ],
        },
    )
    assert discharged["dscginfo"]["endtime"] == today().isoformat()

    final_input = {
        "data": {
            **interim_input["data"],
            "mid_setl_flag": "0",
            "medfee_sumamt": float(total(SECOND_BATCH)),
        }
    }
    expected_final = await native_preview(nsvc, his, person, visit, SECOND_BATCH)
    same_amounts(await his.ok("2303", final_input), expected_final)
    final = await his.ok("2304", final_input)
    same_amounts(final, expected_final)
    assert final["setlinfo"]["mid_setl_flag"] == "0"
    # One deductible for the admission: the final part pays none.
    assert final["setlinfo"]["act_pay_dedc"] == Decimal("0.00")

    # The two parts together are one bill of every line (another key person, same lines).
    other = nsvc.registry.add(make_id_number(), "registered_poor")
    whole = await native_preview(
        nsvc,
        his,
        other,
        {**visit, "visit_id": f"{mdtrt_id}-W"},
        [*FIRST_BATCH, *SECOND_BATCH],
    )
    for name in MONEY_FIELDS:
        parts = interim["setlinfo"][name] + final["setlinfo"][name]
        assert parts == Decimal(whole[name]), name

    # The interim part is revoked after the later one only (the native rule), newest first.
    early = await his.fail(
        "2305", {"data": {"setl_id": interim["setlinfo"]["setl_id"], "mdtrt_id": mdtrt_id}}
    )
    assert final["setlinfo"]["setl_id"] in early
    for part in (final, interim):
        reversal = await his.ok(
            "2305",
            {
                "data": {
                    "setl_id": part["setlinfo"]["setl_id"],
                    "mdtrt_id": mdtrt_id,
                    "psn_no": psn_no,
                }
            },
        )
        info = reversal["setlinfo"]
        assert info["refd_setl_flag"] == "1"
        assert info["init_setl_id"] == part["setlinfo"]["setl_id"]
        assert info["medfee_sumamt"] == -part["setlinfo"]["medfee_sumamt"]
        assert info["fund_pay_sumamt"] == -part["setlinfo"]["fund_pay_sumamt"]
    db = nsvc.app.state.ctx.db
    assert await ledger.person_problems(db, person, today().year) == []
    totals = await his.ok("5206", {"data": {"psn_no": psn_no, "cum_ym": f"{today():%Y%m}"}})
    assert all(row["cum"] == Decimal("0.00") for row in totals["cuminfo"])


async def test_a_second_stay_overlapping_the_first_is_refused(nsvc: Service) -> None:
    his = await his_of(nsvc)
    person = nsvc.registry.add(make_id_number(), "dibao")
    admitted = today() - timedelta(days=5)
    psn_no, mdtrt_id = await his.admit(person, on=admitted, diagnoses=["K80.200"])
    await his.ok("2301", feedetail(mdtrt_id, psn_no, FIRST_BATCH[:1], batch="1"))
    await his.ok(
        "2402",
        {"dscginfo": {"mdtrt_id": mdtrt_id, "endtime": today().isoformat()}},
    )
    await his.ok("2304", {"data": {"mdtrt_id": mdtrt_id}})
    # Admitted again inside the settled stay, at another hospital: one stay at a time.
    other = await his_of(nsvc)
    refused = await other.fail(
        "2401",
        {
            "mdtrtinfo": {
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": person,
                "psn_name": "张三",
                "begntime": (admitted + timedelta(days=1)).isoformat(),
                "ipt_no": "ZY-OVERLAP",
            }
        },
    )
    assert refused.startswith("业务冲突")
    # An outpatient transaction on an inpatient visit is refused, naming the visit.
    wrong = await his.fail("2206", {"data": {"mdtrt_id": mdtrt_id}})
    assert "就诊ID(data.mdtrt_id)" in wrong
    assert "住院" in wrong
