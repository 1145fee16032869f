"""Fee detail upload (like the national 2204 / 2301) and withdrawal (2205 / 2302)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from settlement.settlements.schemas import MAX_ITEMS, FeeItemIn, MoneyText
from shared.money import Money

MAX_OPEN_LINES = 50_000
"""Uploaded lines a visit may hold (a 60-day stay runs to about 20,000)."""

Serial = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=30, pattern=r"^[A-Za-z0-9._:-]+$"
    ),
]


class FeeDetailIn(FeeItemIn):
    """A fee line with the HIS's own serial (``feedetl_sn``, 费用明细流水号; given in upload
    order when absent)."""

    feedetl_sn: Serial | None = None


class FeeDetailUpload(BaseModel):
    """One batch of a visit's fee lines."""

    items: list[FeeDetailIn] = Field(min_length=1, max_length=MAX_ITEMS)


class FeeDetailLine(BaseModel):
    """One uploaded line. An upload's answer also gives, per line, what a bill's ``lines``
    give (``FeeLineOut``, like the national 2204 / 2301 output): the classification —
    ``source`` (``catalogue`` / ``declared`` / ``unlisted``), ``med_list_codg``,
    ``declared_category``, ``chrgitm_lv`` (01 甲类, 02 乙类, 03 丙类), ``selfpay_prop`` (the
    ratio applied), ``pric_uplmt_amt`` (price cap, yuan), ``note`` — and the split of
    ``amount`` (yuan, to the fen): ``fulamt_ownpay_amt`` (全自费), ``overlmt_amt`` (超限价),
    ``preselfpay_amt`` (先行自付), ``inscp_scp_amt`` (符合范围). The upload classifies on its
    own date (today in the deployment's local time zone) with the policy in force that day;
    the settle classifies again on the bill date (discharge date; visit date for
    outpatients), and the bill's ``lines`` are what counts. A listing carries these as null."""

    feedetl_sn: str
    code: str
    name: str
    amount: Money
    setl_id: str | None = Field(description="The bill that settled the line; null while open")
    source: Literal["catalogue", "declared", "unlisted"] | None = None
    med_list_codg: str | None = None
    declared_category: Literal["A", "B", "C"] | None = None
    chrgitm_lv: Literal["01", "02", "03"] | None = None
    selfpay_prop: str | None = Field(default=None, json_schema_extra={"examples": ["0.1"]})
    pric_uplmt_amt: MoneyText | None = None
    fulamt_ownpay_amt: MoneyText | None = None
    overlmt_amt: MoneyText | None = None
    preselfpay_amt: MoneyText | None = None
    inscp_scp_amt: MoneyText | None = None
    note: str | None = None


class FeeDetailsOut(BaseModel):
    """The visit's lines after the call: ``lines`` (this batch's, or all for a listing),
    ``open_lines`` still to settle, ``withdrawn`` serials."""

    visit_id: str
    lines: list[FeeDetailLine]
    open_lines: int
    withdrawn: list[str] = Field(default_factory=list)
