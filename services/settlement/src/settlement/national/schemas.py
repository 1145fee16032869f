"""The national envelope and the ``input`` of each transaction, with the national field names
(国家接口报文). Unknown fields are accepted and ignored, as HIS send many this service does not
use; the values medaid computes with (amounts, quantities, dates, ID numbers, codes) are
checked again by the native models they are passed to."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from settlement.schemas import PastDate
from settlement.settlements.schemas import MAX_ITEMS
from shared.money import Money

_DATETIME_TAIL = re.compile(r"[ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?")


def _code(value: Any) -> Any:
    """Codes may come as JSON numbers (``"infno": 2207``): read as their digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _national_date(value: Any) -> Any:
    """``yyyy-MM-dd`` or ``yyyy-MM-dd HH:mm:ss`` (the national date and time formats) → the
    date part, for the native date checks."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 10 and _DATETIME_TAIL.fullmatch(text[10:]):
            return text[:10]
        return text
    return value


Code = Annotated[
    str,
    BeforeValidator(_code),
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
]
"""A code or identifier (交易编号, 人员编号, 就诊ID …)."""
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
NationalDate = Annotated[PastDate, BeforeValidator(_national_date)]
"""A national date or date-time (``yyyy-MM-dd[ HH:mm:ss]``): its date, 1990-01-01 to today."""


def blank(value: Any) -> bool:
    """An empty or all-space string: HIS send it for "no value"."""
    return isinstance(value, str) and not value.strip()


class In(BaseModel):
    """Unknown fields accepted and ignored; a field sent as an empty string counts as not
    sent (a required one is then missing)."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _blanks(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: item for key, item in value.items() if not blank(item)}
        return value


class Envelope(In):
    """The request envelope (输入报文). ``input`` may also come as a JSON string holding the
    object (some HIS send it so)."""

    infno: Annotated[Code, StringConstraints(pattern=r"^\d{4}$")]
    msgid: Annotated[Code, StringConstraints(pattern=r"^[\x21-\x7e]+$")]
    fixmedins_code: Code
    input: dict[str, Any] = Field(default_factory=dict)
    mdtrtarea_admvs: Any = None
    insuplc_admdvs: Any = None
    recer_sys_code: Any = None
    infver: Any = None
    opter_type: Any = None
    opter: Any = None
    opter_name: Any = None
    inf_time: Any = None
    fixmedins_name: Any = None
    sign_no: Any = None


ENVELOPE_EXAMPLE: dict[str, Any] = {
    "infno": "2207",
    "msgid": "H37030500120261130103000001",
    "mdtrtarea_admvs": "370305",
    "insuplc_admdvs": "370305",
    "recer_sys_code": "MEDAID",
    "infver": "V1.0",
    "opter_type": "1",
    "opter": "0001",
    "opter_name": "收费员",
    "inf_time": "2026-11-30 10:30:00",
    "fixmedins_code": "H370305001",
    "fixmedins_name": "临淄区人民医院",
    "sign_no": "",
    "input": {"data": {"mdtrt_id": "MZ20261130001", "psn_no": "…", "medfee_sumamt": 126.5}},
}


class EnvelopeOut(BaseModel):
    """The answer envelope (输出报文): ``infcode`` 0 success, -1 failure (``err_msg`` says why,
    in Chinese, naming the field); ``output`` the transaction's answer (null on failure)."""

    infcode: Literal[0, -1]
    inf_refmsgid: str
    refmsg_time: str
    respond_time: str
    err_msg: str | None
    warn_msg: str | None
    output: dict[str, Any] | None


# ------------------------------------------------------------------------ transactions


class PersonQuery(In):
    """1101 ``data``: who. The ID number is ``certno`` (``psn_cert_type`` 01), or the
    ``mdtrt_cert_no`` of a ``mdtrt_cert_type`` 02."""

    mdtrt_cert_type: Code | None = None
    mdtrt_cert_no: Code | None = None
    psn_cert_type: Code | None = None
    certno: Code | None = None
    psn_name: Text | None = None
    begntime: NationalDate | None = None


class In1101(In):
    data: PersonQuery


class SignIn(In):
    opter_no: Code | None = None
    mac: Text | None = None
    ip: Text | None = None


class In9001(In):
    signIn: SignIn | None = None


class Credentials(In):
    """Who the visit is for: ``psn_no`` (from 1101), or the ID number itself."""

    psn_no: Code | None = None
    mdtrt_cert_type: Code | None = None
    mdtrt_cert_no: Code | None = None
    certno: Code | None = None
    psn_name: Text | None = None
    insutype: Code | None = None
    med_type: Code | None = None


class Register(Credentials):
    """2201 ``data``: an outpatient visit; ``ipt_otp_no`` becomes its ``mdtrt_id``."""

    begntime: NationalDate
    ipt_otp_no: Code


class In2201(In):
    data: Register


class MdtrtInfo(Credentials):
    """2401 ``mdtrtinfo``: an inpatient stay; ``ipt_no`` becomes its ``mdtrt_id``."""

    begntime: NationalDate
    ipt_no: Code
    dscg_maindiag_code: Code | None = None


class DiseInfo(In):
    diag_code: Code
    maindiag_flag: Code | None = None
    diag_srt_no: Code | None = None


class In2401(In):
    mdtrtinfo: MdtrtInfo
    diseinfo: list[DiseInfo] = Field(default_factory=list, max_length=50)


class DscgInfo(In):
    mdtrt_id: Code
    psn_no: Code | None = None
    endtime: NationalDate


class In2402(In):
    dscginfo: DscgInfo
    diseinfo: list[DiseInfo] = Field(default_factory=list, max_length=50)


class FeeLine(In):
    """A ``feedetail`` line of 2204 / 2301. The amounts and the rest are checked by the native
    fee line (see :func:`settlement.national.mapping.fee_line`)."""

    feedetl_sn: Code
    mdtrt_id: Code
    psn_no: Code | None = None
    chrg_bchno: Code | None = None


class InUpload(In):
    feedetail: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_ITEMS)


class Withdraw2205(In):
    mdtrt_id: Code
    chrg_bchno: Code
    psn_no: Code | None = None


class In2205(In):
    data: Withdraw2205


class Withdraw2302(In):
    mdtrt_id: Code
    feedetl_sn: Code
    psn_no: Code | None = None


class In2302(In):
    data: Withdraw2302


class SettleData(In):
    """2206 / 2207 / 2303 / 2304 ``data``. ``medfee_sumamt``, when sent, must equal the open
    uploaded lines' total; ``mid_setl_flag`` 1 (2303 / 2304) settles an interim part."""

    mdtrt_id: Code
    psn_no: Code | None = None
    medfee_sumamt: Money | None = None
    mid_setl_flag: Code | None = None
    med_type: Code | None = None
    insutype: Code | None = None


class InSettle(In):
    data: SettleData


class RevokeData(In):
    setl_id: Code
    mdtrt_id: Code
    psn_no: Code | None = None


class InRevoke(In):
    data: RevokeData


class QueryData(In):
    setl_id: Code
    mdtrt_id: Code | None = None
    psn_no: Code | None = None


class In5203(In):
    data: QueryData


class TotalsQuery(In):
    psn_no: Code
    cum_ym: Annotated[Code, StringConstraints(pattern=r"^\d{4}(\d{2})?$")] | None = None


class In5206(In):
    data: TotalsQuery


class StatementData(In):
    """3201 / 3202 ``data``: the period (settlement dates) and the hospital's totals."""

    stmt_begndate: NationalDate
    stmt_enddate: NationalDate
    medfee_sumamt: Any = None
    fund_pay_sumamt: Any = None
    acct_pay: Any = None
    cash_payamt: Any = None
    fixmedins_setl_cnt: Any = None
    clr_type: Code | None = None
    setl_optins: Code | None = None


class In3201(In):
    data: StatementData


class In3202(In):
    """3202: the period and the hospital's records, one per bill or reversal in ``detail``
    (the national file's rows, sent in the body)."""

    data: StatementData
    detail: list[dict[str, Any]] = Field(max_length=100_000)


class ReversalData(In):
    omsgid: Code
    oinfno: Code
    psn_no: Code | None = None


class In2601(In):
    data: ReversalData
