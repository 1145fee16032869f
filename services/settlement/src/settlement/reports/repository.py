"""SQL aggregation for the fund report: GROUP BY over the settled bills of a period, served
by the ``(status, setl_date)`` index (an index-only scan on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, func, select, text

from settlement.database import AnyRow, Conn, table_of
from settlement.hospitals.models import Hospital
from settlement.reports.schemas import BILL_AMOUNTS
from settlement.settlements.models import SETTLED, BillFundRow, BillRow

bills = table_of(BillRow)
bill_funds = table_of(BillFundRow)
hospitals = table_of(Hospital)


async def tune_for_aggregation(conn: Conn) -> None:
    """On PostgreSQL, for this read transaction only: room for the fund grouping's hash join
    (a year of bills) in memory, and no JIT compilation (it costs more than it saves on
    these short scans)."""
    if conn.dialect == "postgresql":
        await conn.execute(text("SET LOCAL work_mem = '64MB'"))
        await conn.execute(text("SET LOCAL jit = off"))


def _in_period(begin: date, end: date) -> tuple[ColumnElement[bool], ...]:
    return (
        bills.c.status == SETTLED,
        bills.c.setl_date >= begin,
        bills.c.setl_date <= end,
    )


def _sums() -> list[Any]:
    return [func.sum(bills.c[name]).label(name) for name in BILL_AMOUNTS]


async def by_bill_column(conn: Conn, column: str, begin: date, end: date) -> Sequence[AnyRow]:
    """(key, bill_count, Σ amounts…) per value of a ``bills`` column (``hospital_id``,
    ``aid_class``, ``setl_date``), ordered by it."""
    key = bills.c[column]
    stmt = (
        select(key.label("key"), func.count().label("bill_count"), *_sums())
        .where(*_in_period(begin, end))
        .group_by(key)
        .order_by(key)
    )
    return (await conn.execute(stmt)).all()


async def by_fund(conn: Conn, begin: date, end: date) -> Sequence[AnyRow]:
    """(fund code, name, bills, Σ fund_payamt) per fund, from the bills' fund rows."""
    stmt = (
        select(
            bill_funds.c.fund_pay_type.label("key"),
            func.min(bill_funds.c.fund_pay_type_name).label("name"),
            func.count().label("bill_count"),
            func.sum(bill_funds.c.fund_payamt).label("fund_payamt"),
        )
        .select_from(bill_funds.join(bills, bills.c.setl_id == bill_funds.c.setl_id))
        .where(*_in_period(begin, end))
        .group_by(bill_funds.c.fund_pay_type)
        .order_by(bill_funds.c.fund_pay_type)
    )
    return (await conn.execute(stmt)).all()


async def bill_count(conn: Conn, begin: date, end: date) -> int:
    stmt = select(func.count()).select_from(bills).where(*_in_period(begin, end))
    return int((await conn.execute(stmt)).scalar_one())


async def hospital_names(conn: Conn) -> dict[int, tuple[str, str, str]]:
    """hospital id → (code, name, region code)."""
    rows = await conn.execute(
        select(hospitals.c.id, hospitals.c.code, hospitals.c.name, hospitals.c.region_code)
    )
    return {int(r.id): (r.code, r.name, r.region_code) for r in rows}
