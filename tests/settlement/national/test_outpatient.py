"""A whole outpatient visit through the envelope (9001, 1101, 2201, 2204, 2205, 2206, 2207,
5203, 2208), every amount compared with the native API's preview of the same lines."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.settlement.conftest import MONEY_FIELDS, Service, make_id_number
from tests.settlement.national.conftest import feedetail, his_of, today
from tests.support import ledger

OUTPATIENT_LINES: list[dict[str, Any]] = [
    {
        "code": "110200001",
        "name": "普通门诊诊查费",
        "category": "A",
        "unit_price": "12.00",
        "quantity": 1,
    },
    {
        "code": "XA02BCL",
        "name": "奥美拉唑肠溶胶囊",
        "category": "B",
        "unit_price": "18.50",
        "quantity": 3,
        "self_pay_ratio": "0.10",
    },
    {
        "code": "250301",
        "name": "胸部CT",
        "category": "A",
        "unit_price": "280.00",
        "quantity": 1,
        "price_cap": "250.00",
    },
    {"code": "Z0009", "name": "代煎费", "category": "C", "unit_price": "5.00", "quantity": 2},
]


def native_bill(id_number: str, visit_id: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "patient": {"id_number": id_number, "name": "张三"},
        "visit": {"visit_id": visit_id, "type": "outpatient", "admitted_on": today().isoformat()},
        "items": lines,
    }


def same_amounts(national: dict[str, Any], native: dict[str, Any]) -> None:
    """Every setlinfo amount and every setldetail row of a national answer equal the native
    bill's, to the fen (the national answer has numbers, the native strings)."""
    info = national["setlinfo"]
    for name in MONEY_FIELDS:
        assert info[name] == Decimal(native[name]), name
        assert str(info[name]) == native[name], name  # two decimals on the wire
    assert info["psn_part_amt"] == Decimal(native["psn_cash_pay"])
    assert info["acct_pay"] == Decimal("0.00")
    rows = [
        (
            r["fund_pay_type"],
            r["fund_pay_type_name"],
            r["inscp_scp_amt"],
            r["crt_payb_lmt_amt"],
            r["fund_payamt"],
            r["setl_proc_info"],
        )
        for r in national["setldetail"]
    ]
    expected = [
        (
            r["fund_pay_type"],
            r["fund_pay_type_name"],
            Decimal(r["inscp_scp_amt"]),
            None if r["crt_payb_lmt_amt"] is None else Decimal(r["crt_payb_lmt_amt"]),
            Decimal(r["fund_payamt"]),
            r["setl_proc_info"],
        )
        for r in native["setldetail"]
    ]
    assert rows == expected


async def test_an_outpatient_visit_through_the_envelope(nsvc: Service) -> None:
    his = await his_of(nsvc, level=2)
    person = nsvc.registry.add(make_id_number(), "dibao")

    signed_in = await his.ok("9001", {"signIn": {"opter_no": "0001", "mac": "", "ip": ""}})
    assert signed_in["signinoutb"]["sign_no"]

    psn_no, mdtrt_id = await his.register(person)
    assert len(psn_no) == 30
    assert person not in psn_no

    upload = feedetail(mdtrt_id, psn_no, OUTPATIENT_LINES)
    uploaded = await his.ok("2204", upload)
    results = uploaded["result"]
    assert [r["feedetl_sn"] for r in results] == [
        line["feedetl_sn"] for line in upload["feedetail"]
    ]
    assert [r["det_item_fee_sumamt"] for r in results] == [
        Decimal("12.00"),
        Decimal("55.50"),
        Decimal("280.00"),
        Decimal("10.00"),
    ]
    assert [r["chrgitm_lv"] for r in results] == ["01", "02", "01", "03"]

    # The native preview of the same lines for the same visit (its admission record): the
    # national pre-settle and settle give every amount the same.
    native = await nsvc.client.post(
        "/v1/settlements/preview",
        json=native_bill(person, mdtrt_id, OUTPATIENT_LINES),
        headers=his.hospital.headers(),
    )
    assert native.status_code == 200, native.text
    expected = native.json()
    assert expected["patient"]["aid_class"] == "key"

    settle_input = {
        "data": {
            "psn_no": psn_no,
            "mdtrt_cert_type": "02",
            "mdtrt_cert_no": person,
            "med_type": "11",
            "medfee_sumamt": 357.5,
            "psn_setlway": "01",
            "mdtrt_id": mdtrt_id,
            "chrg_bchno": "B1",
            "acct_used_flag": "0",
            "insutype": "390",
        }
    }
    previewed = await his.ok("2206", settle_input)
    same_amounts(previewed, expected)
    assert previewed["setlinfo"]["setl_id"] is None
    assert previewed["setlinfo"]["medfee_sumamt"] == Decimal("357.50")

    settled = await his.ok("2207", settle_input)
    same_amounts(settled, expected)
    info = settled["setlinfo"]
    setl_id = info["setl_id"]
    assert info["mdtrt_id"] == mdtrt_id
    assert info["psn_no"] == psn_no
    assert info["refd_setl_flag"] == "0"
    assert info["certno"] == person[:6] + "********" + person[-4:]
    stored = await nsvc.client.get(f"/v1/settlements/{setl_id}", headers=his.hospital.headers())
    assert stored.status_code == 200
    same_amounts(settled, stored.json())

    queried = await his.ok(
        "5203", {"data": {"psn_no": psn_no, "setl_id": setl_id, "mdtrt_id": mdtrt_id}}
    )
    assert queried == settled | {"setlinfo": {**settled["setlinfo"], "medins_setl_id": None}}

    revoked = await his.ok(
        "2208", {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": psn_no}}
    )
    reversal = revoked["setlinfo"]
    assert reversal["refd_setl_flag"] == "1"
    assert reversal["init_setl_id"] == setl_id
    assert reversal["setl_id"] != setl_id
    assert reversal["setl_id"].startswith("R")
    for name in MONEY_FIELDS:
        assert (
            reversal[name] == -Decimal(expected[name])
            or reversal[name] == Decimal(expected[name]) == 0
        )
    assert [r["fund_payamt"] for r in revoked["setldetail"]] == [
        -Decimal(r["fund_payamt"]) for r in expected["setldetail"]
    ]
    assert await ledger.person_problems(nsvc.app.state.ctx.db, person, today().year) == []

    # The reversal named by its own setl_id in 5203 answers the reversal.
    again = await his.ok("5203", {"data": {"setl_id": reversal["setl_id"]}})
    assert again["setlinfo"]["setl_id"] == reversal["setl_id"]
    assert again["setlinfo"]["medfee_sumamt"] == -Decimal("357.50")


async def test_withdrawing_a_charge_batch(nsvc: Service) -> None:
    his = await his_of(nsvc)
    person = nsvc.registry.add(make_id_number())
    psn_no, mdtrt_id = await his.register(person)
    await his.ok("2204", feedetail(mdtrt_id, psn_no, OUTPATIENT_LINES[:2], batch="B1"))
    await his.ok("2204", feedetail(mdtrt_id, psn_no, OUTPATIENT_LINES[2:], batch="B2"))
    withdrawn = await his.ok(
        "2205", {"data": {"mdtrt_id": mdtrt_id, "chrg_bchno": "B1", "psn_no": psn_no}}
    )
    assert [r["feedetl_sn"] for r in withdrawn["result"]] == ["B1-0001", "B1-0002"]
    unknown = await his.fail("2205", {"data": {"mdtrt_id": mdtrt_id, "chrg_bchno": "B9"}})
    assert "收费批次号(data.chrg_bchno)" in unknown
    # What is left is batch B2: 280.00 + 10.00.
    wrong = await his.fail("2206", {"data": {"mdtrt_id": mdtrt_id, "medfee_sumamt": 357.5}})
    assert "医疗费总额(data.medfee_sumamt)" in wrong
    assert "290.00" in wrong
    left = await his.ok("2206", {"data": {"mdtrt_id": mdtrt_id, "medfee_sumamt": 290}})
    assert left["setlinfo"]["medfee_sumamt"] == Decimal("290.00")
    everything = await his.ok("2205", {"data": {"mdtrt_id": mdtrt_id, "chrg_bchno": "0000"}})
    assert [r["feedetl_sn"] for r in everything["result"]] == ["B2-0001", "B2-0002"]
    nothing = await his.fail("2206", {"data": {"mdtrt_id": mdtrt_id}})
    assert "费用明细" in nothing
