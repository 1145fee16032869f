"""Reconciliation requests and answers (对账: 3201 对总账, 3202 对明细账)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from settlement.schemas import IsoDate, Strict, VisitId
from shared.idnumber import IdNumber
from shared.money import SignedMoney
from shared.timestamps import Timestamp

MAX_SUMMARY_DAYS = 366
MAX_DETAIL_DAYS = 31
MAX_SETL_CNT = 100_000_000

ResultCode = Literal["0", "1", "2", "3"]
RESULT_NAMES: dict[str, str] = {
    "0": "对平",
    "1": "中心多",
    "2": "医药机构多",
    "3": "数据不一致",
}
"""The national interface's result codes: 0 matched; 1 only the service (the centre) has the
bill; 2 only the hospital has it; 3 both have it and an amount, the status or an identifier
differs."""

HospitalCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
SetlId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[!-~]+$"),
]
BillStatus = Literal["settled", "revoked"]
RefdSetlFlag = Literal[0, 1]
"""National 退费结算标志: 1 on a reversal (the record of a revoke, negative amounts), 0 on a
bill."""


def check_period(begin: date, end: date, max_days: int) -> None:
    if end < begin:
        raise ValueError("end_date must not be before begin_date")
    if (end - begin).days + 1 > max_days:
        raise ValueError(f"the period must not be longer than {max_days} days")


class SummaryRequest(Strict):
    """The hospital's totals for a period of settlement dates (local, both ends included): the
    **net** totals of its books, the bills settled in the period (revoked later or not) and
    the reversals of the revokes made in it (negative amounts); ``setl_cnt`` counts both.

    ``include_revoked``: the hospital's totals are of the bills settled in the period only,
    reversals left out (each bill counted as settled, whatever became of it later).
    ``hospital_code``: the admin names the hospital; a hospital may leave it out (or send its
    own)."""

    begin_date: IsoDate
    end_date: IsoDate
    hospital_code: HospitalCode | None = None
    visit_type: Literal["inpatient", "outpatient"] | None = None
    include_revoked: bool = False
    medfee_sumamt: SignedMoney
    fund_pay_sumamt: SignedMoney
    psn_cash_pay: SignedMoney
    setl_cnt: int = Field(ge=0, le=MAX_SETL_CNT)

    @model_validator(mode="after")
    def _period(self) -> SummaryRequest:
        check_period(self.begin_date, self.end_date, MAX_SUMMARY_DAYS)
        return self

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "begin_date": "2026-11-27",
                    "end_date": "2026-11-27",
                    "medfee_sumamt": "182340.50",
                    "fund_pay_sumamt": "160112.35",
                    "psn_cash_pay": "22228.15",
                    "setl_cnt": 57,
                }
            ]
        }
    }


class Totals(BaseModel):
    """Net totals of a period's books (a reversal's amounts are negative); ``setl_cnt``
    counts the records, bills and reversals."""

    setl_cnt: int
    medfee_sumamt: SignedMoney
    fund_pay_sumamt: SignedMoney
    psn_cash_pay: SignedMoney


class Differences(BaseModel):
    """The service's totals minus the hospital's (negative: the hospital has more)."""

    setl_cnt: int
    medfee_sumamt: str = Field(description="Signed amount, two decimals")
    fund_pay_sumamt: str = Field(description="Signed amount, two decimals")
    psn_cash_pay: str = Field(description="Signed amount, two decimals")


class SummaryResult(BaseModel):
    reconciliation_id: int
    hospital_code: str
    begin_date: date
    end_date: date
    visit_type: Literal["inpatient", "outpatient"] | None
    include_revoked: bool
    matched: bool
    hospital: Totals
    service: Totals
    differences: Differences
    created_at: Timestamp


class HospitalBill(Strict):
    """One record in the hospital's books: a bill (``refd_setl_flag`` 0, left out = 0), or a
    reversal (``refd_setl_flag`` 1, status ``revoked``, its own ``setl_id``, negative amounts:
    only a reversal's amounts may be negative)."""

    setl_id: SetlId
    visit_id: VisitId
    id_number: IdNumber
    medfee_sumamt: SignedMoney
    fund_pay_sumamt: SignedMoney
    status: BillStatus
    refd_setl_flag: RefdSetlFlag = 0


class DetailRequest(Strict):
    """The hospital's books of a period (settlement dates, local, both ends included): every
    bill settled in the period, with its status at the end of the period (``revoked`` when
    revoked in the period, ``settled`` when revoked later or not at all), and the reversal of
    every revoke made in the period as a row of its own (``refd_setl_flag`` 1)."""

    begin_date: IsoDate
    end_date: IsoDate
    hospital_code: HospitalCode | None = None
    bills: list[HospitalBill]

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "begin_date": "2026-11-27",
                    "end_date": "2026-11-27",
                    "bills": [
                        {
                            "setl_id": "S20261127031502123456a1b2c3",
                            "visit_id": "ZY20261120001",
                            "id_number": "370305198001011237",
                            "medfee_sumamt": "3200.00",
                            "fund_pay_sumamt": "2950.00",
                            "status": "settled",
                        }
                    ],
                }
            ]
        }
    }


class Difference(BaseModel):
    """A field whose value differs; ``id_number`` values are masked."""

    field: Literal[
        "medfee_sumamt", "fund_pay_sumamt", "status", "visit_id", "id_number", "refd_setl_flag"
    ]
    hospital: str
    service: str


class DetailRow(BaseModel):
    """One record (bill or reversal) on either side. The values are the service's when it has
    the record (results 0, 1, 3), else the hospital's (2). ``status`` is the bill's at the end
    of the period; a reversal has ``refd_setl_flag`` 1, negative amounts and (the service's
    side) ``init_setl_id``, the bill it reverses."""

    setl_id: str
    result: ResultCode
    visit_id: str | None
    status: BillStatus | None
    medfee_sumamt: SignedMoney | None
    fund_pay_sumamt: SignedMoney | None
    differences: list[Difference]
    refd_setl_flag: RefdSetlFlag = 0
    init_setl_id: str | None = None


class DetailResult(BaseModel):
    reconciliation_id: int
    hospital_code: str
    begin_date: date
    end_date: date
    matched: bool
    service_bill_count: int
    hospital_bill_count: int
    counts: dict[ResultCode, int] = Field(
        description='Bills per result code: "0" 对平 matched, "1" 中心多 only the service has '
        'it, "2" 医药机构多 only the hospital has it, "3" 数据不一致 both have it and it differs'
    )
    rows: list[DetailRow] = Field(
        description="One row per bill on either side, by `setl_id` (only the mismatches with "
        "`?rows=mismatched`)"
    )
    created_at: Timestamp


class ReconciliationOut(BaseModel):
    """A stored reconciliation (without its rows)."""

    id: int
    kind: Literal["summary", "detail"]
    hospital_code: str
    begin_date: date
    end_date: date
    visit_type: Literal["inpatient", "outpatient"] | None
    include_revoked: bool
    matched: bool
    bill_count: int = Field(description="Detail: bills on either side; summary: the service's")
    mismatch_count: int = Field(description="Detail: bills not matched; summary: 0 or 1")
    counts: dict[ResultCode, int] | None
    totals: SummaryTotals | None
    created_at: Timestamp
    actor: str


class SummaryTotals(BaseModel):
    hospital: Totals
    service: Totals
    differences: Differences


class ReconciliationDetailOut(ReconciliationOut):
    """A stored reconciliation with its mismatching bills."""

    rows: list[DetailRow]


class ReconciliationPage(BaseModel):
    items: list[ReconciliationOut]
    next_before: int | None = Field(
        description="Pass as `before` for the next (older) page; null on the last page"
    )


ReconciliationOut.model_rebuild()
ReconciliationDetailOut.model_rebuild()
