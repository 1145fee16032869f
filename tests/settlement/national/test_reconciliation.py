"""3201 (对总账) and 3202 (对明细账) through the envelope: the native reconciliation of the
period's books (bills and reversals), its result codes in the national fields."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.settlement.conftest import Service, make_id_number
from tests.settlement.national.conftest import His, feedetail, his_of, today
from tests.settlement.national.test_outpatient import OUTPATIENT_LINES


async def settled_visit(his: His, svc: Service, lines: list[dict[str, Any]]) -> dict[str, Any]:
    person = svc.registry.add(make_id_number(), "dibao")
    psn_no, mdtrt_id = await his.register(person)
    await his.ok("2204", feedetail(mdtrt_id, psn_no, lines))
    return dict((await his.ok("2207", {"data": {"mdtrt_id": mdtrt_id}}))["setlinfo"])


def period(**amounts: Any) -> dict[str, Any]:
    day = today().isoformat()
    return {"data": {"stmt_begndate": day, "stmt_enddate": day, "acct_pay": 0, **amounts}}


def row(info: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A record of the hospital's books, as its HIS keeps the settle's (or revoke's) answer."""
    values = {
        "setl_id": info["setl_id"],
        "mdtrt_id": info["mdtrt_id"],
        "psn_no": info["psn_no"],
        "medfee_sumamt": float(info["medfee_sumamt"]),
        "fund_pay_sumamt": float(info["fund_pay_sumamt"]),
        "acct_pay": 0,
        "refd_setl_flag": info["refd_setl_flag"],
    }
    if info.get("init_setl_id"):
        values["init_setl_id"] = info["init_setl_id"]
    return {**values, **changes}


async def test_a_days_books_reconciled(nsvc: Service) -> None:
    his = await his_of(nsvc)
    kept = await settled_visit(his, nsvc, OUTPATIENT_LINES)
    gone = await settled_visit(his, nsvc, OUTPATIENT_LINES[:2])
    reversal = (
        await his.ok("2208", {"data": {"setl_id": gone["setl_id"], "mdtrt_id": gone["mdtrt_id"]}})
    )["setlinfo"]
    records = [kept, gone, reversal]
    medfee = sum((r["medfee_sumamt"] for r in records), Decimal(0))
    fund = sum((r["fund_pay_sumamt"] for r in records), Decimal(0))
    assert medfee == kept["medfee_sumamt"]  # the revoked bill and its reversal cancel out

    matched = await his.ok(
        "3201",
        period(
            medfee_sumamt=float(medfee),
            fund_pay_sumamt=float(fund),
            fixmedins_setl_cnt=3,
            clr_type="11",
        ),
    )
    assert matched["stmtinfo"]["stmt_rslt"] == "0"
    assert matched["stmtinfo"]["stmt_rslt_dscr"] == "对平"
    # Inpatient records only (清算类别 21): there are none.
    inpatient = await his.ok(
        "3201",
        period(medfee_sumamt=0, fund_pay_sumamt=0, fixmedins_setl_cnt=0, clr_type="21"),
    )
    assert inpatient["stmtinfo"]["stmt_rslt"] == "0"
    short = await his.ok(
        "3201",
        period(medfee_sumamt=float(medfee), fund_pay_sumamt=float(fund), fixmedins_setl_cnt=2),
    )
    assert short["stmtinfo"]["stmt_rslt"] == "1"
    assert short["stmtinfo"]["stmt_rslt_dscr"] == "不平：结算笔数：中心3，医药机构2，差额1"
    listed = await nsvc.client.get(
        "/v1/reconciliations?matched=false", headers=his.hospital.headers()
    )
    assert listed.json()["items"][0]["id"] == short["stmtinfo"]["reconciliation_id"]

    books = [row(kept), row(gone), row(reversal)]
    detail = await his.ok("3202", {**period(), "detail": books})
    assert detail["stmtinfo"]["stmt_rslt"] == "0"
    assert {r["setl_id"]: r["stmt_rslt"] for r in detail["detail"]} == {
        kept["setl_id"]: "0",
        gone["setl_id"]: "0",
        reversal["setl_id"]: "0",
    }
    by_id = {r["setl_id"]: r for r in detail["detail"]}
    assert by_id[reversal["setl_id"]]["init_setl_id"] == gone["setl_id"]
    assert by_id[reversal["setl_id"]]["medfee_sumamt"] == -gone["medfee_sumamt"]

    # One record missing, one the centre lacks, one amount different: 1, 2, 3.
    books = [
        row(kept, medfee_sumamt=float(kept["medfee_sumamt"]) + 1),
        row(gone),
        row(reversal),
        row(kept, setl_id="S-NOT-AT-THE-CENTRE"),
    ]
    books.pop(1)
    mismatched = await his.ok("3202", {**period(), "detail": books})
    results = {r["setl_id"]: r for r in mismatched["detail"]}
    assert mismatched["stmtinfo"]["stmt_rslt"] == "1"
    assert results[gone["setl_id"]]["stmt_rslt"] == "1"
    assert results["S-NOT-AT-THE-CENTRE"]["stmt_rslt"] == "2"
    assert results[kept["setl_id"]]["stmt_rslt"] == "3"
    assert results[kept["setl_id"]]["stmt_rslt_name"] == "数据不一致"
    assert "医疗费总额" in results[kept["setl_id"]]["stmt_rslt_dscr"]
    # Without its reversal's init_setl_id the revoked bill counts as settled: a difference.
    books = [row(kept), row(gone), {**row(reversal), "init_setl_id": None}]
    status = await his.ok("3202", {**period(), "detail": books})
    assert {r["setl_id"]: r["stmt_rslt"] for r in status["detail"]}[gone["setl_id"]] == "3"


async def test_reconciliation_input_errors_name_the_field(nsvc: Service) -> None:
    his = await his_of(nsvc)
    info = await settled_visit(his, nsvc, OUTPATIENT_LINES[:1])
    unknown = await his.fail("3202", {**period(), "detail": [row(info, psn_no="0" * 30)]})
    assert unknown.startswith("人员编号(detail[0].psn_no)：未知")
    twice = await his.fail("3202", {**period(), "detail": [row(info), row(info)]})
    assert twice.startswith("结算ID(detail[1].setl_id)")
    negative = await his.fail("3202", {**period(), "detail": [row(info, medfee_sumamt=-1)]})
    assert negative.startswith("医疗费总额(detail[0].medfee_sumamt)：不能为负数")
    long = await his.fail(
        "3202",
        {"data": {"stmt_begndate": "2026-01-01", "stmt_enddate": "2026-06-30"}, "detail": []},
    )
    assert long == "对账结束日期(data.stmt_enddate)：对账期间不能超过31天"
    missing = await his.fail("3201", period(medfee_sumamt=1))
    assert "基金支付总额(data.fund_pay_sumamt)" in missing
