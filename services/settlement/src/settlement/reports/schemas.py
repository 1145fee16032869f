"""The fund report: amounts and bill counts per group over a period."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from settlement.engine.types import SETLINFO_FUND_FIELDS
from shared.money import SignedMoney

GroupBy = Literal["hospital", "fund", "aid_class", "region", "day"]
GROUP_BYS: tuple[GroupBy, ...] = ("hospital", "fund", "aid_class", "region", "day")
MAX_REPORT_DAYS = 1096

BILL_AMOUNTS = ("medfee_sumamt", *SETLINFO_FUND_FIELDS, "fund_pay_sumamt", "psn_cash_pay")
"""Columns of a report grouped by hospital, aid class, region or day (sums of ``setlinfo``)."""
FUND_AMOUNTS = ("fund_payamt",)
"""Column of a report grouped by fund (sums of ``setldetail.fund_payamt``)."""


class ReportRow(BaseModel):
    """One group: ``key`` is the hospital code, fund code (``fund_pay_type``), aid class,
    region code or day; ``name`` a readable label (a region's name from ``/v1/regions``, or
    its code where none is known). The group's records of the books: the bills settled in
    the period and the reversals of the revokes made in it (``bill_count`` counts both,
    ``reversal_count`` the reversals); ``amounts`` are net (a reversal's are negative, so a
    day with only reversals is negative)."""

    key: str
    name: str
    bill_count: int
    amounts: dict[str, SignedMoney]
    reversal_count: int = Field(
        default=0, description="Of `bill_count`, the reversals (`refd_setl_flag` 1)"
    )


class FundReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    group_by: GroupBy
    columns: list[str] = Field(description="The keys of `amounts`, in order")
    rows: list[ReportRow]
    total: ReportRow = Field(
        description="Sums over every record of the period, bills and reversals (group_by=fund: "
        "`bill_count` is the number of records, each counted once)"
    )
