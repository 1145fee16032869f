"""Request and response pieces used by several domains (patient, dates, limits)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints

from settlement.engine import FundLimit
from shared.idnumber import IdNumber
from shared.money import Money

EXAMPLE_ID_NUMBER = "370305198001011237"
EXAMPLE_ID_MASKED = "370305********1237"

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
EARLIEST_DATE = date(1990, 1, 1)


def _iso_date(value: Any) -> Any:
    """Only ``YYYY-MM-DD`` strings (no timestamps, no numbers)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATE.match(value.strip()):
        raise ValueError("must be a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError("is not a valid calendar date") from None


def _plausible(value: date) -> date:
    if value < EARLIEST_DATE:
        raise ValueError(f"must not be before {EARLIEST_DATE.isoformat()}")
    # One day of slack: a HIS a few hours ahead of this server's clock is not an error.
    if value > date.today() + timedelta(days=1):
        raise ValueError("must not be in the future")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
"""A date written ``YYYY-MM-DD``."""

PastDate = Annotated[date, BeforeValidator(_iso_date), AfterValidator(_plausible)]
"""A ``YYYY-MM-DD`` date between 1990-01-01 and today."""


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(_no_control),
]
VisitId = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$",
    ),
]


class Strict(BaseModel):
    """Unknown fields are refused: a misspelt optional field must not go unnoticed on a bill."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class PatientIn(Strict):
    id_number: IdNumber
    name: Name


AidClassName = Literal["key", "assisted", "none"]


class PatientOut(BaseModel):
    """The patient as the bill saw them: masked ID, the eligibility used and where it came
    from (``admission``: taken at the admission call; ``settlement``: asked at settle time)."""

    id_number_masked: str
    name: str
    aid_class: AidClassName
    categories: list[str]
    registered: bool
    eligibility_on: date
    eligibility_source: Literal["admission", "settlement"]


class FundLimitOut(BaseModel):
    """What a fund has paid the person this year and may still pay (``null``: no limit).
    ``group``: for an outpatient chronic-disease fund (门诊慢特病), the disease group the row is
    for (one row per group, each with its own cap); ``null`` for other funds."""

    fund_pay_type: str
    fund_pay_type_name: str
    visit_type: Literal["inpatient", "outpatient"] | None
    paid_this_year: Money
    annual_limit: Money | None
    remaining: Money | None
    group: str | None = None


def limits_out(limits: list[FundLimit]) -> list[FundLimitOut]:
    """The engine's per-fund limits as answered (admission, accumulators)."""
    return [
        FundLimitOut(
            fund_pay_type=f.fund_pay_type,
            fund_pay_type_name=f.fund_pay_type_name,
            visit_type=f.visit_type,
            paid_this_year=f.paid_this_year,
            annual_limit=f.annual_limit,
            remaining=f.remaining,
            group=f.group,
        )
        for f in limits
    ]
