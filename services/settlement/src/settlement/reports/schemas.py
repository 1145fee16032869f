"""The fund report: amounts and bill counts per group over a period."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.money import Money

GroupBy = Literal["hospital", "fund", "aid_class", "region", "day"]
GROUP_BYS: tuple[GroupBy, ...] = ("hospital", "fund", "aid_class", "region", "day")
MAX_REPORT_DAYS = 1096

BILL_AMOUNTS = (
    "medfee_sumamt",
    "hifp_pay",
    "hifmi_pay",
    "maf_pay",
    "oth_pay",
    "fund_pay_sumamt",
    "psn_cash_pay",
)
"""Columns of a report grouped by hospital, aid class, region or day (sums of ``setlinfo``)."""
FUND_AMOUNTS = ("fund_payamt",)
"""Column of a report grouped by fund (sums of ``setldetail.fund_payamt``)."""


class ReportRow(BaseModel):
    """One group: ``key`` is the hospital code, fund code (``fund_pay_type``), aid class,
    region code or day; ``name`` a readable label (a region's name from ``/v1/regions``, or
    its code where none is known)."""

    key: str
    name: str
    bill_count: int
    amounts: dict[str, Money]


class FundReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    group_by: GroupBy
    columns: list[str] = Field(description="The keys of `amounts`, in order")
    rows: list[ReportRow]
    total: ReportRow = Field(
        description="Sums over every bill of the period (group_by=fund: `bill_count` is the "
        "number of bills, each counted once)"
    )
