"""The one map between the national interface's fields and medaid's (国家接口字段 ↔ medaid).

Every national field a transaction reads or answers is translated here and nowhere else: the
requests the national handlers build for the native services (a fee line, a settle request,
the books of a reconciliation), the answers they give (``setlinfo``, ``setldetail``, the
per-line ``result`` of an upload, ``cuminfo``, ``stmtinfo``) and the field names of the errors
(a native ``items[3].unit_price`` is the national ``feedetail[3].pric``). The tables below are
also the table of ``docs/national-interface.md``. Amounts are never computed here: they are
the native answer's, copied (or, for a reversal record, negated as the native reversal row
is).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Literal

from settlement.engine import SETLINFO_FIELDS
from settlement.engine.vocabulary import REGISTRY_CATEGORY_LABELS, VISIT_TYPE_LABELS
from settlement.fee_details.schemas import FeeDetailLine
from settlement.national.schemas import blank
from settlement.persons.schemas import AccumulatorsOut
from settlement.reconciliation.schemas import RESULT_NAMES, SummaryResult
from settlement.reconciliation.service import Row
from settlement.settlements.schemas import BillOut, FundRowOut
from shared.idnumber import mask_id_number
from shared.money import ZERO

VisitType = Literal["inpatient", "outpatient"]

# ---------------------------------------------------------------------------------- codes

ID_CARD_MDTRT_CERT_TYPE = "02"
"""就诊凭证类型 02: the 就诊凭证编号 is the resident ID number (the only credential medaid reads;
01 电子凭证 and 03 社会保障卡 need the platform)."""
ID_CARD_PSN_CERT_TYPE = "01"
"""人员证件类型 01: 居民身份证."""
INSUTYPE = "390"
"""险种类型 390: 城乡居民基本医疗保险 (the scheme medaid's funds belong to)."""
MED_TYPE: Mapping[VisitType, str] = {"outpatient": "11", "inpatient": "21"}
"""医疗类别 answered when the HIS sent none: 11 普通门诊, 21 普通住院."""
CLR_TYPE: Mapping[VisitType, str] = {"outpatient": "11", "inpatient": "21"}
"""清算类别: 11 门诊, 21 住院 (3201 reads the first digit: 1 outpatient, 2 inpatient)."""
CHRGITM_LV: Mapping[str, Literal["A", "B", "C"]] = {"01": "A", "02": "B", "03": "C"}
"""收费项目等级 → medaid's item category: 01 甲类 A, 02 乙类 B, 03 丙类 C."""
CATEGORY_CHRGITM_LV: Mapping[str, str] = {v: k for k, v in CHRGITM_LV.items()}
ALL_OPEN_LINES = "0000"
"""收费批次号 (2205) or 费用明细流水号 (2302) ``0000``: every open line of the visit."""
YES = "1"


def visit_type_of_clr_type(code: str | None) -> VisitType | None:
    """3201's 清算类别: ``1x`` outpatient, ``2x`` inpatient, anything else both."""
    if code and code[0] == "1":
        return "outpatient"
    if code and code[0] == "2":
        return "inpatient"
    return None


# ------------------------------------------------------------------- fields, both ways

FEEDETAIL_FIELDS: tuple[tuple[str, str, str], ...] = (
    # national field, medaid field (``FeeDetailIn``), Chinese name
    ("feedetl_sn", "feedetl_sn", "费用明细流水号"),
    ("med_list_codg", "code", "医疗目录编码 (else medins_list_codg)"),
    ("med_list_name", "name", "医疗目录名称 (else medins_list_name, else the code)"),
    ("chrgitm_lv", "category", "收费项目等级 01/02/03 → A/B/C"),
    ("pric", "unit_price", "单价"),
    ("cnt", "quantity", "数量"),
    ("det_item_fee_sumamt", "amount", "明细项目费用总额"),
    ("selfpay_prop", "self_pay_ratio", "自付比例"),
    ("pric_uplmt_amt", "price_cap", "定价上限金额"),
)
"""A fee line of 2204 / 2301 (``feedetail``) and the native fee line it becomes."""

VISIT_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("mdtrt_id", "visit.visit_id", "就诊ID = 2201 ipt_otp_no / 2401 ipt_no"),
    ("begntime", "visit.admitted_on", "开始时间 (the date)"),
    ("endtime", "visit.discharged_on", "结束时间 (2402; an interim part: the day it is settled)"),
    ("diseinfo[].diag_code", "visit.diagnoses", "诊断代码 (main diagnosis first)"),
    ("mid_setl_flag", "visit.interim", "中途结算标志 1"),
    ("med_type", "visit.type", "医疗类别 (by transaction: 22xx outpatient, 23xx/24xx inpatient)"),
    ("certno / mdtrt_cert_no", "patient.id_number", "证件号码 / 就诊凭证编号 (凭证类型 02)"),
    ("psn_name", "patient.name", "人员姓名"),
)
"""The visit of a settle request, from the admission record and 2402's discharge."""

SETLINFO_EXTRA: tuple[tuple[str, str, str], ...] = (
    ("mdtrt_id", "visit_id", "就诊ID"),
    ("setl_id", "setl_id", "结算ID (a reversal: its own R… id)"),
    ("psn_no", "HMAC of the ID number", "人员编号"),
    ("psn_name", "patient.name", "人员姓名"),
    ("certno", "patient.id_number_masked", "证件号码 (masked)"),
    ("setl_time", "setl_time", "结算时间, local"),
    ("psn_part_amt", "psn_cash_pay", "个人负担总金额"),
    ("acct_pay", "0.00", "个人账户支出 (no personal account)"),
    ("refd_setl_flag", "refd_setl_flag", "退费结算标志"),
    ("init_setl_id", "reversal: the bill's setl_id", "原结算ID"),
    ("mid_setl_flag", "interim", "中途结算标志"),
)
"""``setlinfo`` fields besides the amounts, whose names are medaid's own (``SETLINFO_FIELDS``)."""

_NATIVE_TO_NATIONAL_ITEM = {medaid: national for national, medaid, _ in FEEDETAIL_FIELDS}
_NATIVE_TO_NATIONAL: dict[str, str] = {
    "items": "feedetail",
    "visit.visit_id": "mdtrt_id",
    "visit.admitted_on": "begntime",
    "visit.discharged_on": "endtime",
    "visit.diagnoses": "diseinfo.diag_code",
    "visit.interim": "mid_setl_flag",
    "visit.type": "med_type",
    "patient.id_number": "certno",
    "patient.name": "psn_name",
    "hospital_level": "fixmedins_code",
    "query.year": "cum_ym",
    "begin_date": "stmt_begndate",
    "end_date": "stmt_enddate",
    "setl_cnt": "fixmedins_setl_cnt",
    "psn_cash_pay": "cash_payamt",
    "bills": "detail",
}
_NATIVE_TO_NATIONAL_BOOK = {"visit_id": "mdtrt_id", "id_number": "psn_no"}
_INDEXED = re.compile(r"^(items|bills|visit\.diagnoses)\[(\d+)\]\.?(.*)$")


def national_field(native: str, renames: Mapping[str, str] | None = None) -> str:
    """The national name of a native request field (``items[3].unit_price`` →
    ``feedetail[3].pric``); ``renames`` first (a transaction's own names: 2201 calls
    ``visit.visit_id`` ``ipt_otp_no``)."""
    if renames and native in renames:
        return renames[native]
    match = _INDEXED.match(native)
    if match:
        kind, index, rest = match.groups()
        if kind == "items":
            return f"feedetail[{index}]" + (
                f".{_NATIVE_TO_NATIONAL_ITEM.get(rest, rest)}" if rest else ""
            )
        if kind == "bills":
            return f"detail[{index}]" + (
                f".{_NATIVE_TO_NATIONAL_BOOK.get(rest, rest)}" if rest else ""
            )
        return f"diseinfo[{index}].diag_code"
    return _NATIVE_TO_NATIONAL.get(native, native)


FIELD_LABELS: Mapping[str, str] = {
    "infno": "交易编号",
    "msgid": "发送方报文ID",
    "fixmedins_code": "定点医药机构编号",
    "input": "交易输入",
    "data": "输入数据",
    "psn_no": "人员编号",
    "mdtrt_id": "就诊ID",
    "setl_id": "结算ID",
    "mdtrt_cert_type": "就诊凭证类型",
    "mdtrt_cert_no": "就诊凭证编号",
    "psn_cert_type": "人员证件类型",
    "certno": "证件号码",
    "psn_name": "人员姓名",
    "begntime": "开始时间",
    "endtime": "结束时间",
    "ipt_otp_no": "住院/门诊号",
    "ipt_no": "住院号",
    "mdtrtinfo": "就诊信息",
    "dscginfo": "出院信息",
    "diseinfo": "诊断信息",
    "diag_code": "诊断代码",
    "dscg_maindiag_code": "住院主诊断代码",
    "feedetail": "费用明细",
    "feedetl_sn": "费用明细流水号",
    "chrg_bchno": "收费批次号",
    "med_list_codg": "医疗目录编码",
    "medins_list_codg": "医药机构目录编码",
    "med_list_name": "医疗目录名称",
    "chrgitm_lv": "收费项目等级",
    "pric": "单价",
    "cnt": "数量",
    "det_item_fee_sumamt": "明细项目费用总额",
    "selfpay_prop": "自付比例",
    "pric_uplmt_amt": "定价上限金额",
    "medfee_sumamt": "医疗费总额",
    "fund_pay_sumamt": "基金支付总额",
    "acct_pay": "个人账户支出",
    "cash_payamt": "现金支付金额",
    "mid_setl_flag": "中途结算标志",
    "med_type": "医疗类别",
    "cum_ym": "累计年月",
    "stmt_begndate": "对账开始日期",
    "stmt_enddate": "对账结束日期",
    "fixmedins_setl_cnt": "定点医药机构结算笔数",
    "clr_type": "清算类别",
    "detail": "对账明细",
    "refd_setl_flag": "退费结算标志",
    "init_setl_id": "原结算ID",
    "omsgid": "原发送方报文ID",
    "oinfno": "原交易编号",
    "signIn": "签到信息",
}

_SEGMENT = re.compile(r"[A-Za-z_]+(?=(\[\d+\])?$)")


def field_label(path: str) -> str:
    """``单价(feedetail[3].pric)``: the Chinese name of the path's last field, then the path."""
    last = path.rsplit(".", 1)[-1]
    match = _SEGMENT.search(last)
    label = FIELD_LABELS.get(match.group(0)) if match else None
    return f"{label}({path})" if label else path


# ------------------------------------------------------------------------ requests


def fee_line(line: Mapping[str, Any]) -> dict[str, Any]:
    """A national fee line (2204 / 2301 ``feedetail``) as a native ``FeeDetailIn`` body.
    Values are passed as sent: the native model validates them (its errors come back under
    the national names through :func:`national_field`). ``chrgitm_lv`` is the hospital's
    declaration of the line's level until the insurer's catalogue decides it; with a
    catalogue loaded a line may leave it out (declared as 03 丙类: the catalogue's entry
    decides, and a code without one is 丙类 ``unlisted`` at settle as at upload)."""
    line = {key: value for key, value in line.items() if not blank(value)}
    level = line.get("chrgitm_lv", "03")
    code = line.get("med_list_codg") or line.get("medins_list_codg")
    name = line.get("med_list_name") or line.get("medins_list_name") or code
    item: dict[str, Any] = {
        "feedetl_sn": line.get("feedetl_sn"),
        "code": code,
        "name": name,
        "category": CHRGITM_LV.get(str(level), level) if level is not None else None,
        "unit_price": line.get("pric"),
        "quantity": line.get("cnt"),
    }
    for national, medaid in (
        ("det_item_fee_sumamt", "amount"),
        ("selfpay_prop", "self_pay_ratio"),
        ("pric_uplmt_amt", "price_cap"),
    ):
        if line.get(national) is not None:
            item[medaid] = line[national]
    return item


def settle_request(
    *,
    id_number: str,
    name: str,
    visit_id: str,
    visit_type: VisitType,
    admitted_on: date,
    bill_date: date,
    diagnoses: Sequence[str],
    interim: bool,
) -> dict[str, Any]:
    """A native ``SettleRequest`` body without ``items``: the visit's uploaded open lines."""
    visit: dict[str, Any] = {
        "visit_id": visit_id,
        "type": visit_type,
        "admitted_on": admitted_on.isoformat(),
        "discharged_on": bill_date.isoformat(),
        "diagnoses": list(diagnoses),
    }
    if interim:
        visit["interim"] = True
    return {"patient": {"id_number": id_number, "name": name}, "visit": visit}


def books_row(
    row: Mapping[str, Any], id_number: str, status: Literal["settled", "revoked"]
) -> dict[str, Any]:
    """A row of 3202's ``detail`` as a native reconciliation ``bills`` item (the ID number
    resolved from ``psn_no``, the status from the books: see the 3202 handler)."""
    return {
        "setl_id": row.get("setl_id"),
        "visit_id": row.get("mdtrt_id"),
        "id_number": id_number,
        "medfee_sumamt": amount_text(row.get("medfee_sumamt")),
        "fund_pay_sumamt": amount_text(row.get("fund_pay_sumamt")),
        "status": status,
        "refd_setl_flag": row.get("refd_setl_flag", 0),
    }


def amount_text(value: Any) -> Any:
    """A number as sent, as the text the native models parse exactly (anything else as
    it is, for them to refuse)."""
    return str(value) if isinstance(value, Decimal | int) and not isinstance(value, bool) else value


# -------------------------------------------------------------------------- answers


def national_time(moment: datetime | None, tz: timezone) -> str | None:
    """``yyyy-MM-dd HH:mm:ss`` in the hospitals' local time."""
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if moment else None


def national_date(day: date | None) -> str | None:
    return day.isoformat() if day else None


def setlinfo(
    bill: BillOut,
    *,
    psn_no: str,
    tz: timezone,
    interim: bool | None = None,
    msgid: str | None = None,
    med_type: str | None = None,
    insutype: str | None = None,
) -> dict[str, Any]:
    """The ``setlinfo`` of a bill (a preview's has ``setl_id`` null): every amount is the
    native bill's. ``msgid``: the settle's own message (医药机构结算ID)."""
    info: dict[str, Any] = {
        "mdtrt_id": bill.visit_id,
        "setl_id": bill.setl_id,
        "psn_no": psn_no,
        "psn_name": bill.patient.name,
        "psn_cert_type": ID_CARD_PSN_CERT_TYPE,
        "certno": bill.patient.id_number_masked,
        "insutype": insutype or INSUTYPE,
        "med_type": med_type or MED_TYPE[bill.visit_type],
        "setl_time": national_time(bill.setl_time, tz),
        "begndate": national_date(bill.admitted_on),
        "enddate": national_date(bill.discharged_on),
    }
    for name in SETLINFO_FIELDS:
        info[name] = getattr(bill, name)
    info["psn_part_amt"] = bill.psn_cash_pay
    info["acct_pay"] = ZERO
    info["acct_mulaid_pay"] = ZERO
    info["hosp_part_amt"] = ZERO
    info["balc"] = ZERO
    info["clr_type"] = CLR_TYPE[bill.visit_type]
    info["medins_setl_id"] = msgid
    info["refd_setl_flag"] = "0"
    info["mid_setl_flag"] = None if interim is None else (YES if interim else "0")
    return info


def setldetail(rows: Iterable[FundRowOut], *, sign: int = 1) -> list[dict[str, Any]]:
    """``setldetail``: one row per fund of the bill, as the native answer has it."""
    out = []
    for row in rows:
        out.append(
            {
                "fund_pay_type": row.fund_pay_type,
                "fund_pay_type_name": row.fund_pay_type_name,
                "inscp_scp_amt": _signed(row.inscp_scp_amt, sign),
                "crt_payb_lmt_amt": row.crt_payb_lmt_amt,
                "fund_payamt": _signed(row.fund_payamt, sign),
                "setl_proc_info": row.setl_proc_info,
            }
        )
    return out


def _signed(value: Decimal, sign: int) -> Decimal:
    return value if sign > 0 or not value else -value


_NEGATED_SETLINFO = (*SETLINFO_FIELDS, "psn_part_amt")


def reversal_setlinfo(info: Mapping[str, Any], bill: BillOut, tz: timezone) -> dict[str, Any]:
    """The ``setlinfo`` of the reversal a revoke booked (冲销记录): its own ``setl_id`` and
    time, ``refd_setl_flag`` 1, ``init_setl_id`` the bill's, every amount negated (as the
    native reversal row stores them)."""
    assert bill.reversal is not None
    out = dict(info)
    for name in _NEGATED_SETLINFO:
        out[name] = _signed(info[name], -1)
    out["setl_id"] = bill.reversal.setl_id
    out["setl_time"] = national_time(bill.reversal.setl_time, tz)
    out["refd_setl_flag"] = "1"
    out["init_setl_id"] = bill.setl_id
    return out


def _number(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def line_result(line: FeeDetailLine, sent: Mapping[str, Any]) -> dict[str, Any]:
    """One line of an upload's ``result``: the native answer's classification and split of
    the line (``chrgitm_lv``, ``selfpay_prop``, ``pric_uplmt_amt``, ``fulamt_ownpay_amt``,
    ``overlmt_amt``, ``preselfpay_amt``, ``inscp_scp_amt``, classified on the upload's date;
    the settle classifies again on the bill date), the national code the catalogue found
    (else the code sent), ``memo`` the line's name, and the count and price it was uploaded
    with."""
    return {
        "feedetl_sn": line.feedetl_sn,
        "det_item_fee_sumamt": line.amount,
        "cnt": sent.get("quantity"),
        "pric": sent.get("unit_price"),
        "pric_uplmt_amt": _number(line.pric_uplmt_amt),
        "selfpay_prop": _number(line.selfpay_prop),
        "fulamt_ownpay_amt": _number(line.fulamt_ownpay_amt),
        "overlmt_amt": _number(line.overlmt_amt),
        "preselfpay_amt": _number(line.preselfpay_amt),
        "inscp_scp_amt": _number(line.inscp_scp_amt),
        "chrgitm_lv": line.chrgitm_lv,
        "med_list_codg": line.med_list_codg or line.code,
        "memo": line.name,
    }


def baseinfo(
    *, psn_no: str, id_number: str, name: str, gend: str, brdy: date, age: int, extra: Any
) -> dict[str, Any]:
    """1101 ``baseinfo``: the ID number masked (``certno``), never in the clear."""
    return {
        "psn_no": psn_no,
        "psn_cert_type": ID_CARD_PSN_CERT_TYPE,
        "certno": mask_id_number(id_number),
        "psn_name": name,
        "gend": gend,
        "naty": None,
        "brdy": brdy.isoformat(),
        "age": age,
        "exp_content": extra,
    }


def insuinfo(region_code: str | None) -> list[dict[str, Any]]:
    """1101 ``insuinfo``: medaid holds no enrolment record; one row for the residents'
    scheme, no personal account (``balc`` 0)."""
    return [
        {
            "balc": ZERO,
            "insutype": INSUTYPE,
            "psn_type": None,
            "psn_insu_stas": "1",
            "psn_insu_date": None,
            "paus_insu_date": None,
            "cvlserv_flag": "0",
            "insuplc_admdvs": region_code,
            "emp_name": None,
        }
    ]


def idetinfo(
    categories: Iterable[str],
    codes: Mapping[str, str],
    valid_from: date | None,
    valid_to: date | None,
) -> list[dict[str, Any]]:
    """1101 ``idetinfo``: one identity record per registry category active on the day that
    the policy's ``[identity_types]`` gives a code; the dates are the span over which the
    registry's answer holds (``valid_from`` / ``valid_to``, null when open)."""
    out = []
    for category in categories:
        code = codes.get(category)
        if code is None:
            continue
        out.append(
            {
                "psn_idet_type": code,
                "psn_type_lv": None,
                "memo": REGISTRY_CATEGORY_LABELS.get(category, category),
                "begntime": f"{valid_from.isoformat()} 00:00:00" if valid_from else None,
                "endtime": f"{valid_to.isoformat()} 23:59:59" if valid_to else None,
            }
        )
    return out


def cuminfo(answer: AccumulatorsOut, insutype: str = INSUTYPE) -> list[dict[str, Any]]:
    """5206 ``cuminfo``: one row per running total of the year (``cum_type_code`` the total's
    key — a fund's code, ``<code>.inpatient`` / ``.outpatient`` for what the basic fund paid
    by visit type, ``<code>.base`` the base of a cumulative tier), as the native answer's
    ``totals``; a fund row's limit and what it may still pay in ``lmt_amt`` and ``balc``."""
    funds = {f.fund_pay_type: f for f in answer.funds if f.visit_type is None}
    by_visit = {(f.fund_pay_type, str(f.visit_type)): f for f in answer.funds if f.visit_type}
    names = {f.fund_pay_type: f.fund_pay_type_name for f in answer.funds}
    cum_ym = f"{answer.year}12" if answer.on.year > answer.year else answer.on.strftime("%Y%m")
    rows = []
    for key, amount in answer.totals.items():
        code, _, part = key.partition(".")
        fund = by_visit.get((code, part)) if part in VISIT_TYPE_LABELS else funds.get(key)
        label = names.get(code, key)
        if part in VISIT_TYPE_LABELS:
            label += f"（{VISIT_TYPE_LABELS[part]}）"
        elif part == "base" or part == "cash_base":
            label += "（累计基数）"
        rows.append(
            {
                "cum_type_code": key,
                "cum_type_name": label,
                "year": str(answer.year),
                "cum": Decimal(amount),
                "cum_ym": cum_ym,
                "insutype": insutype,
                "lmt_amt": fund.annual_limit if fund is not None else None,
                "balc": fund.remaining if fund is not None else None,
            }
        )
    return rows


_DIFFERENCE_LABELS = {
    "setl_cnt": "结算笔数",
    "medfee_sumamt": "医疗费总额",
    "fund_pay_sumamt": "基金支付总额",
    "psn_cash_pay": "个人现金支付",
}


def stmtinfo(result: SummaryResult, setl_optins: str | None) -> dict[str, Any]:
    """3201 ``stmtinfo``: ``stmt_rslt`` 0 对平 / 1 不平; the differences (centre − hospital)
    in ``stmt_rslt_dscr``."""
    if result.matched:
        text = "对平"
    else:
        parts = []
        for name, label in _DIFFERENCE_LABELS.items():
            ours, theirs = getattr(result.service, name), getattr(result.hospital, name)
            if ours != theirs:
                difference = getattr(result.differences, name)
                parts.append(f"{label}：中心{ours}，医药机构{theirs}，差额{difference}")
        text = "不平：" + "；".join(parts)
    return {
        "setl_optins": setl_optins,
        "stmt_rslt": "0" if result.matched else "1",
        "stmt_rslt_dscr": text,
        "reconciliation_id": result.reconciliation_id,
    }


_BOOK_DIFFERENCE_LABELS = {
    "medfee_sumamt": "医疗费总额",
    "fund_pay_sumamt": "基金支付总额",
    "status": "结算状态",
    "visit_id": "就诊ID",
    "id_number": "人员编号",
    "refd_setl_flag": "退费结算标志",
}


def stmt_row(row: Row) -> dict[str, Any]:
    """A row of 3202's answer: the native result code (0 对平, 1 中心多, 2 医药机构多, 3 数据不一致)
    and, for 3, which fields differ (a person's ID numbers are not shown, only that the
    ``psn_no`` differs)."""
    setl_id, result, visit_id, _status, medfee, fund, differences, refd, init_setl_id = row
    notes = []
    for diff in differences:
        label = _BOOK_DIFFERENCE_LABELS.get(diff["field"], diff["field"])
        if diff["field"] == "id_number":
            notes.append(f"{label}不符")
        else:
            notes.append(f"{label}：中心{diff['service']}，医药机构{diff['hospital']}")
    return {
        "setl_id": setl_id,
        "mdtrt_id": visit_id,
        "stmt_rslt": result,
        "stmt_rslt_name": RESULT_NAMES[result],
        "stmt_rslt_dscr": "；".join(notes) or None,
        "medfee_sumamt": medfee,
        "fund_pay_sumamt": fund,
        "refd_setl_flag": str(refd),
        "init_setl_id": init_setl_id,
    }


def subject(**values: Any) -> str:
    """What a message did, as stored for 2601 (JSON text)."""
    return json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
