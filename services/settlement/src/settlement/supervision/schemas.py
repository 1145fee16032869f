"""Supervision answers: a bill's flags as its hospital sees them, flags as administrators
work them, the review, the rules and the monthly view."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from typing_extensions import TypedDict

from settlement.schemas import Name, Strict, _no_control
from shared.money import Money

FlagStatus = Literal["open", "reviewed-ok", "reviewed-recover"]
FLAG_STATUS_LABELS = {"open": "待审核", "reviewed-ok": "审核无误", "reviewed-recover": "审核追回"}
"""A flag's status as the receipt and the administrator's page print it."""
SEVERITY_LABELS = {"low": "低", "medium": "中", "high": "高"}
"""A rule's severity as the administrator's page prints it."""
ReviewStatus = Literal["reviewed-ok", "reviewed-recover"]
SeverityName = Literal["low", "medium", "high"]


class BillFlagOut(TypedDict):
    """A supervision rule that fired on this bill (智能审核提示). The bill is settled and
    paid all the same; the insurer reviews the flag (``status``: ``open`` → ``reviewed-ok``
    or ``reviewed-recover``). ``field`` is the request field it is about. (A plain mapping:
    it is built on the settle path, where a model's construction would cost more.)"""

    rule: str
    title: str
    severity: SeverityName
    field: str
    message: str
    status: FlagStatus


class FlagOut(BaseModel):
    """A flag as administrators work it: the rule, the bill and its hospital, the hospital's
    sentence (``message``), the facts behind it (``detail``: other bills, medians …) and the
    review (who, when, a note)."""

    id: int
    setl_id: str
    setl_date: date
    bill_status: Literal["settled", "revoked"]
    hospital_code: str
    hospital_name: str
    visit_id: str
    visit_type: Literal["inpatient", "outpatient"]
    id_number_masked: str
    medfee_sumamt: Money
    rule: str
    title: str
    severity: SeverityName
    field: str
    message: str
    detail: dict[str, Any]
    status: FlagStatus
    created_at: datetime
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_note: str | None


class FlagPage(BaseModel):
    """Flags oldest first; pass ``next_after`` as ``after`` for the next page."""

    items: list[FlagOut]
    next_after: int | None


Note = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    AfterValidator(_no_control),
]


class ReviewIn(Strict):
    """The review of an open flag: ``reviewed-ok`` (核实无误, the bill stands) or
    ``reviewed-recover`` (追回, the money is to be recovered), who reviewed it and why."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "status": "reviewed-recover",
                    "reviewer": "王审核",
                    "note": "住院 4 天计床位费 30 天，追回多计部分",
                }
            ]
        },
    )

    status: ReviewStatus
    reviewer: Name
    note: Note


class RuleOut(BaseModel):
    """A rule of the rules file: common keys and its kind's parameters."""

    code: str
    kind: str
    title: str
    severity: SeverityName
    action: Literal["flag", "refuse"]
    enabled: bool
    per_bill: bool
    parameters: dict[str, Any]


class RulesOut(BaseModel):
    version: str
    source: str
    rules: list[RuleOut]
    stats_refreshed_at: datetime | None = Field(
        description="When the outlier rules' medians were last refreshed (null: never)"
    )


class MonthlyRow(BaseModel):
    """One hospital's month under one monthly rule: the share (of key-group patients among
    the month's patients, or of bills just below the deductible among its bills), the
    previous month's, the rise (share − previous, ``null`` without a previous month) and
    whether the rule fires (``flagged``: both months have ``min_bills`` bills and the rise
    is above ``max_rise``). Shares are decimals with four places (``0.2500`` = 25 %)."""

    rule: str
    hospital_code: str
    hospital_name: str
    month: str
    bills: int
    count: int
    base: int
    share: str
    previous_share: str | None
    rise: str | None
    flagged: bool


class MonthlyView(BaseModel):
    """The monthly rules over months ``from``..``to`` (``YYYY-MM``)."""

    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    rules: list[RuleOut]
    rows: list[MonthlyRow]
    flagged: list[MonthlyRow]
