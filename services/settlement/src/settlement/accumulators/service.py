"""What each fund has paid a person this year and can still pay (like the national 5206)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from settlement.accumulators import repository
from settlement.context import AppContext
from settlement.engine import AidClass, FundLimit, Policy, remaining_limits
from settlement.schemas import FundLimitOut


def limits_out(limits: list[FundLimit]) -> list[FundLimitOut]:
    return [
        FundLimitOut(
            fund_pay_type=f.fund_pay_type,
            fund_pay_type_name=f.fund_pay_type_name,
            visit_type=f.visit_type,
            paid_this_year=f.paid_this_year,
            annual_limit=f.annual_limit,
            remaining=f.remaining,
        )
        for f in limits
    ]


async def limits_for(
    ctx: AppContext, policy: Policy, id_number: str, year: int, aid_class: AidClass
) -> tuple[list[FundLimitOut], dict[str, Decimal], int]:
    async with ctx.db.read() as conn:
        totals, bills, _ = await repository.read(conn, id_number, year)
    return limits_out(remaining_limits(policy, aid_class=aid_class, totals=totals)), totals, bills


def reference_date(year: int, tz_now: datetime) -> date:
    """The day whose eligibility and policy describe ``year``: today in the current year, the
    last day of a past year."""
    today = tz_now.date()
    return today if year >= today.year else date(year, 12, 31)
